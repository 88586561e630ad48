// Benchmark of the in-process feature store (issue 7): bbox query, heap per point feature and start-up to ready
// over 1,000,000 point features, each against baselines measured in the same run (median of RUNS runs).
// Run: npm run bench:bbox   (options: N=1000000 RUNS=3 QUERIES=2000)
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Flatbush from 'flatbush'
import RBush from 'rbush'
import { execFileSync } from 'node:child_process'
import { compiled } from './cases/ready.js'
import { EmbeddedFeatureStore } from '../src/features/embedded/store.js'
import { JOURNAL_FILE } from '../src/features/embedded/journal.js'
import { frame } from '../src/features/embedded/lines.js'
import { writeSnapshot, SNAPSHOT_FILE } from '../src/features/embedded/snapshot.js'
import type { Bbox, CollectionDef } from '../src/features/store.js'
import { FeatureIndex } from '../src/features/embedded/feature-index.js'
import type { Log } from '../src/shared/log.js'
import type { OrgId } from '../src/features/store.js'

const N = Number(process.env.N ?? 1_000_000)
const RUNS = Number(process.env.RUNS ?? 3)
const QUERIES = Number(process.env.QUERIES ?? 2000)
const JOURNAL_OPS = 2000
const HITS = 100
const TARGETS = { p50Ms: 0.1, bytesPerFeature: 400, startupS: 5 }

if (globalThis.gc === undefined) throw new Error('run with --expose-gc (npm run bench:bbox does)')
const gc = globalThis.gc
/** JS heap plus typed-array backing stores, which live outside the heap but are part of the index. */
const memory = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const silent = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Log

function mulberry32 (seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = mulberry32(42)
const defs: CollectionDef[] = [{ id: 'points', title: 'points', description: '', temporalProperty: 'at', queryables: ['kind'] }]
const orgOf = (i: number): string => i % 10 === 0 ? 'other' : 'acme' // 90% in the queried org; the rest must stay unseen

// 1. The data set, written to a temp dir by the store's own writer: a snapshot plus a journal of later writes.
// Each phase is a function: a top-level module body can keep dead temporaries alive and skew heap figures.
const dir = await mkdtemp(join(tmpdir(), 'geotoken-bench-'))
const xy = new Float64Array(N * 2)
let jsonBytes = 0
async function writeData (): Promise<void> {
  const t0 = performance.now()
  const index = new FeatureIndex(defs)
  for (let i = 0; i < N; i++) {
    const x = rnd() * 360 - 180
    const y = rnd() * 180 - 90
    xy[i * 2] = x
    xy[i * 2 + 1] = y
    jsonBytes += index.put(orgOf(i), 'points', `p${i}`, { type: 'Feature', geometry: { type: 'Point', coordinates: [x, y] }, properties: { at: '2025-01-01T00:00:00Z', kind: 'site' } }).json.length
  }
  await writeSnapshot(dir, defs, index.entries())
  // Journal: moves, deletes and creates since the snapshot, replayed at every start.
  const ops: string[] = []
  for (let j = 0; j < JOURNAL_OPS; j++) {
    const i = Math.floor(rnd() * N)
    const feature = { type: 'Feature', geometry: { type: 'Point', coordinates: [xy[i * 2], xy[i * 2 + 1]] }, properties: { at: '2025-02-02T00:00:00Z', kind: 'moved' } }
    ops.push(frame(JSON.stringify(j % 4 === 3 ? { op: 'del', org: orgOf(i), collection: 'points', id: `p${i}` } : { op: 'put', org: orgOf(i), collection: 'points', id: j % 4 === 2 ? `new${j}` : `p${i}`, feature })))
  }
  await appendFile(join(dir, JOURNAL_FILE), ops.join(''))
  console.log(`data: ${N.toLocaleString('en')} point features (90% acme) + ${JOURNAL_OPS} journal ops written to ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}
await writeData()

// 2. Start-up to ready: EmbeddedFeatureStore.open() on those files; baseline: just reading the snapshot's bytes.
const startup: number[] = []
const startupCpu: number[] = []
const readOnly: number[] = []
const bytes: number[] = []
async function readSnapshotBytes (): Promise<number> {
  const t0 = performance.now()
  await readFile(join(dir, SNAPSHOT_FILE))
  return performance.now() - t0
}
async function openStore (): Promise<EmbeddedFeatureStore> {
  const before = memory()
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const store = await EmbeddedFeatureStore.open({ dir, log: silent, compactEvery: Number.MAX_SAFE_INTEGER })
  startup.push(performance.now() - t0)
  // CPU time (all threads, GC included) next to wall time: on a shared machine the wall time includes waiting for a core.
  const cpu = process.cpuUsage(cpu0)
  startupCpu.push((cpu.user + cpu.system) / 1000)
  bytes.push((memory() - before) / N)
  return store
}
// The same open() in a fresh process, as at a real start: no heap left over from writing the data or from earlier opens.
const freshStartup: number[] = []
const freshStartupCpu: number[] = []
for (let r = 0; r < RUNS; r++) {
  const out = execFileSync(process.execPath, [compiled('open-store.ts'), dir], { encoding: 'utf8' })
  const { wallMs, cpuMs } = JSON.parse(out.trim().split('\n').at(-1) as string) as { wallMs: number, cpuMs: number }
  freshStartup.push(wallMs)
  freshStartupCpu.push(cpuMs)
}
for (let r = 1; r < RUNS; r++) {
  readOnly.push(await readSnapshotBytes())
  await (await openStore()).close()
}
readOnly.push(await readSnapshotBytes())
const ready = await openStore()
const acmeStore = ready.forOrg('acme' as OrgId)

// Baselines over the same acme points: raw rbush and flatbush searches (no order, no JSON), and a linear scan.
const acme: number[] = []
for (let i = 0; i < N; i++) if (orgOf(i) === 'acme') acme.push(i)
type Item = { minX: number, minY: number, maxX: number, maxY: number, i: number }
const rtree = new RBush<Item>()
function loadRbush (): number {
  const before = memory()
  rtree.load(acme.map(i => {
    const x = xy[i * 2] as number
    const y = xy[i * 2 + 1] as number
    return { minX: x, minY: y, maxX: x, maxY: y, i }
  }))
  return (memory() - before) / acme.length
}
const rbushBytes = loadRbush()
const flat = new Flatbush(acme.length)
for (const i of acme) flat.add(xy[i * 2] as number, xy[i * 2 + 1] as number)
flat.finish()
// The floor for any store that serves pre-serialized JSON: the served strings alone.
async function measureStrings (): Promise<number> {
  const strings: string[] = []
  const before = memory()
  for (let offset = 0; offset < N; offset += 10_000) {
    for (const f of (await acmeStore.list('points', { properties: {}, limit: 10_000, offset })).items) strings.push(Buffer.from(f.json).toString())
  }
  return (memory() - before) / strings.length
}
const stringBytes = await measureStrings()

// 3. Queries: squares holding ~HITS of the org's features on average.
const side = Math.sqrt(HITS / (N * 0.9) * 360 * 180)
const boxes: Bbox[] = Array.from({ length: QUERIES }, () => {
  const x = rnd() * (360 - side) - 180
  const y = rnd() * (180 - side) - 90
  return [x, y, x + side, y + side]
})
const q = (bbox: Bbox) => ({ bbox, properties: {}, limit: HITS, offset: 0 })
// Store cases resolve a promise (the FeatureStore contract is async); every case is awaited alike.
const cases: Record<string, (b: Bbox) => number | Promise<number>> = {
  'store.list bbox, org-scoped, ordered, limit 100': async b => (await acmeStore.list('points', q(b))).numberMatched,
  '… plus the page body (pre-serialized JSON joined)': async b => {
    const page = (await acmeStore.list('points', q(b)))
    return page.items.map(f => f.json).join(',').length > 0 ? page.items.length : 0
  },
  'baseline: raw rbush search (no order, no JSON)': b => rtree.search({ minX: b[0], minY: b[1], maxX: b[2], maxY: b[3] }).length,
  'baseline: raw flatbush search (no order, no JSON)': b => flat.search(b[0], b[1], b[2], b[3]).length,
  'baseline: linear scan of the org\'s points': b => {
    let hits = 0
    for (const i of acme) {
      const x = xy[i * 2] as number
      const y = xy[i * 2 + 1] as number
      if (x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]) hits++
    }
    return hits
  }
}
const scanRounds = Math.max(20, Math.min(QUERIES, 2e7 / N))
const samples: Record<string, { p50: number[], p99: number[], hits: number }> = {}
for (let r = 0; r < RUNS; r++) {
  // Interleaved: each run measures every case once, so a noisy neighbour hits them alike.
  for (const [name, fn] of Object.entries(cases)) {
    const rounds = name.includes('linear') ? scanRounds : QUERIES
    for (let i = 0; i < Math.min(rounds, 200); i++) await fn(boxes[i % boxes.length] as Bbox) // warm-up
    const times: number[] = []
    let hits = 0
    for (let i = 0; i < rounds; i++) {
      const b = boxes[i % boxes.length] as Bbox
      const s = performance.now()
      hits += await fn(b)
      times.push(performance.now() - s)
    }
    times.sort((a, b) => a - b)
    const entry = samples[name] ??= { p50: [], p99: [], hits: 0 }
    entry.p50.push(times[Math.floor(times.length * 0.5)] as number)
    entry.p99.push(times[Math.floor(times.length * 0.99)] as number)
    entry.hits = hits / rounds
  }
}
// The index and the scan must agree on what each box holds.
for (const b of boxes.slice(0, 50)) {
  const [indexed, scanned] = [await cases['store.list bbox, org-scoped, ordered, limit 100']?.(b), await cases['baseline: linear scan of the org\'s points']?.(b)]
  // Journal moves/deletes make the store differ from the generated points by a handful at most.
  if (Math.abs((indexed ?? 0) - (scanned ?? 0)) > 2) throw new Error(`index found ${indexed}, scan ${scanned} in ${b.join(',')}`)
}

const ms = (v: number): string => v < 1 ? `${(v * 1000).toFixed(1)} µs` : `${v.toFixed(2)} ms`
const p50 = (name: string): number => median(samples[name]?.p50 ?? [NaN])
const [storeCase, bodyCase, rbushCase, flatCase, scanCase] = Object.keys(cases) as [string, string, string, string, string]
const startupMs = median(startup)
const perFeature = median(bytes)
console.log(`\n${new Date().toISOString().slice(0, 10)}, ${process.version}, median of ${RUNS} runs, ${QUERIES} queries each (scan: ${scanRounds})\n`)
console.log('| case | p50 | p99 | mean hits |')
console.log('|---|---|---|---|')
for (const [name, s] of Object.entries(samples)) console.log(`| ${name} | ${ms(median(s.p50))} | ${ms(median(s.p99))} | ${s.hits.toFixed(0)} |`)
console.log('')
console.log('| figure | value | baseline (same run) | ratio | target |')
console.log('|---|---|---|---|---|')
console.log(`| bbox query p50 | ${ms(p50(storeCase))} | rbush ${ms(p50(rbushCase))}, flatbush ${ms(p50(flatCase))}, scan ${ms(p50(scanCase))} | ${(p50(storeCase) / p50(rbushCase)).toFixed(2)}× rbush, ${(p50(storeCase) / p50(flatCase)).toFixed(2)}× flatbush, scan ${(p50(scanCase) / p50(storeCase)).toFixed(0)}× slower | ≤ ${TARGETS.p50Ms} ms: ${p50(storeCase) <= TARGETS.p50Ms ? 'met' : 'missed'} (with body: ${ms(p50(bodyCase))}) |`)
console.log(`| heap per stored point feature (index included) | ${perFeature.toFixed(0)} B | served JSON string alone ${stringBytes.toFixed(0)} B (avg ${(jsonBytes / N).toFixed(0)} chars); rbush index alone ${rbushBytes.toFixed(0)} B | ${(perFeature / stringBytes).toFixed(2)}× the JSON | ≤ ${TARGETS.bytesPerFeature} B: ${perFeature <= TARGETS.bytesPerFeature ? 'met' : 'missed'} |`)
console.log(`| start-up to ready (open: snapshot + ${JOURNAL_OPS} journal ops) | ${(startupMs / 1000).toFixed(2)} s | reading the snapshot's ${(Buffer.byteLength(await readFile(join(dir, SNAPSHOT_FILE))) / 2 ** 20).toFixed(0)} MiB alone ${(median(readOnly) / 1000).toFixed(2)} s | ${(startupMs / median(readOnly)).toFixed(1)}× the read | ≤ ${TARGETS.startupS} s: ${startupMs / 1000 <= TARGETS.startupS ? 'met' : 'missed'} |`)
const freshMs = median(freshStartup)
console.log(`| … the same in a fresh process (\`bench/open-store.ts\`), as at a real start | ${(freshMs / 1000).toFixed(2)} s | | ${(freshMs / median(readOnly)).toFixed(1)}× the read | ≤ ${TARGETS.startupS} s: ${freshMs / 1000 <= TARGETS.startupS ? 'met' : 'missed'} |`)
console.log(`\nfresh-process start-up ${freshStartup.map(v => (v / 1000).toFixed(2)).join(', ')} s wall, ${freshStartupCpu.map(v => (v / 1000).toFixed(2)).join(', ')} s CPU`)
console.log(`runs: start-up ${startup.map(v => (v / 1000).toFixed(2)).join(', ')} s wall, ${startupCpu.map(v => (v / 1000).toFixed(2)).join(', ')} s CPU; bytes/feature ${bytes.map(v => v.toFixed(0)).join(', ')}; load average ${loadavg().map(v => v.toFixed(1)).join(' ')}`)
await ready.close()
if (process.env.BENCH_KEEP === undefined) await rm(dir, { recursive: true, force: true })
else console.log(`data kept in ${dir}`)
