// Benchmark: org-scoped bbox queries over 1,000,000 point features through FeatureIndex, against a linear scan
// of the same partition in the same run. Run: npm run bench:bbox  (options: N=1000000 QUERIES=500)
import { performance } from 'node:perf_hooks'
import { FeatureIndex, type StoredFeature } from '../src/features/store.js'

const N = Number(process.env.N ?? 1_000_000)
const QUERIES = Number(process.env.QUERIES ?? 500)
const HITS = 100

function mulberry32 (seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = mulberry32(42)
const index = new FeatureIndex([{ id: 'points', title: 'points', description: '', temporalProperty: 'at', queryables: [] }])

const heapBefore = (globalThis.gc?.(), process.memoryUsage().heapUsed)
const t0 = performance.now()
for (let i = 0; i < N; i++) {
  // 90% in the queried org, 10% in another: the query must not see them.
  const org = i % 10 === 0 ? 'other' : 'acme'
  index.put(org, 'points', `p${i}`, { type: 'Feature', geometry: { type: 'Point', coordinates: [rnd() * 360 - 180, rnd() * 180 - 90] }, properties: { at: '2025-01-01T00:00:00Z' } })
}
const loadMs = performance.now() - t0
globalThis.gc?.()
const heapPerFeature = (process.memoryUsage().heapUsed - heapBefore) / N

// A square holding ~HITS of the org's features on average.
const side = Math.sqrt(HITS / (N * 0.9) * 360 * 180)
const boxes = Array.from({ length: QUERIES }, () => {
  const x = rnd() * (360 - side) - 180
  const y = rnd() * (180 - side) - 90
  return [x, y, x + side, y + side] as [number, number, number, number]
})
const all = index.list('acme', 'points', { properties: {}, limit: N, offset: 0 }).items

function measure (fn: (b: [number, number, number, number]) => number, rounds: number): { p50: number, p99: number, hits: number } {
  const times: number[] = []
  let hits = 0
  for (let i = 0; i < rounds; i++) {
    const b = boxes[i % boxes.length] as [number, number, number, number]
    const s = performance.now()
    hits += fn(b)
    times.push(performance.now() - s)
  }
  times.sort((a, b) => a - b)
  return { p50: times[Math.floor(times.length * 0.5)] as number, p99: times[Math.floor(times.length * 0.99)] as number, hits: hits / rounds }
}
const indexed = (b: [number, number, number, number]) => index.list('acme', 'points', { bbox: b, properties: {}, limit: HITS, offset: 0 }).numberMatched
const scan = (b: [number, number, number, number]) => all.filter((f: StoredFeature) => f.minX >= b[0] && f.minX <= b[2] && f.minY >= b[1] && f.minY <= b[3]).length
measure(indexed, 200) // warm-up
const idx = measure(indexed, QUERIES)
const lin = measure(scan, Math.min(QUERIES, 50))

const ms = (v: number) => `${v.toFixed(3)} ms`
console.log(`features: ${N.toLocaleString('en')} (90% acme), load ${(loadMs / 1000).toFixed(1)} s, heap ≈ ${Math.round(heapPerFeature)} bytes/feature${globalThis.gc === undefined ? ' (run with --expose-gc for an exact figure)' : ''}`)
console.log('| case | p50 | p99 | mean hits |')
console.log('|---|---|---|---|')
console.log(`| FeatureIndex bbox (rbush), org-scoped | ${ms(idx.p50)} | ${ms(idx.p99)} | ${idx.hits.toFixed(0)} |`)
console.log(`| linear scan of the same partition | ${ms(lin.p50)} | ${ms(lin.p99)} | ${lin.hits.toFixed(0)} |`)
console.log(`speed-up (scan p50 / index p50): ${(lin.p50 / idx.p50).toFixed(0)}×`)
