// `npm run fuzz`: a bounded fuzz run (issue 6) of the properties in arbitraries.ts against a real listening server.
// FUZZ_SECONDS (default 180) bounds it, FUZZ_SEED replays a run, FUZZ_HEAP_GROWTH_MB (default 48) bounds the heap.
import fc from 'fast-check'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { properties, send, startTarget } from './arbitraries.js'

const seconds = Number(process.env.FUZZ_SECONDS ?? 180)
const seed = process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 0x7fffffff) : Number(process.env.FUZZ_SEED)
const heapBoundMb = Number(process.env.FUZZ_HEAP_GROWTH_MB ?? 48)
const RUNS_PER_ROUND = 200
if (![seconds, seed, heapBoundMb].every(Number.isFinite)) throw new Error('FUZZ_SECONDS, FUZZ_SEED and FUZZ_HEAP_GROWTH_MB must be numbers')
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc (npm run fuzz does)')

const escaped: string[] = []
process.on('unhandledRejection', reason => { escaped.push(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`) })
process.on('uncaughtException', err => { escaped.push(`uncaught exception: ${err.stack ?? String(err)}`) })

function heapMb (): number {
  gc?.(); gc?.()
  return process.memoryUsage().heapUsed / 2 ** 20
}

console.log(`fuzz: seed ${seed} (replay with FUZZ_SEED=${seed} npm run fuzz), ${seconds} s, heap growth bound ${heapBoundMb} MB`)
const root = mkdtempSync(join(tmpdir(), 'geotoken-fuzz-'))
const target = await startTarget(root)
const props = properties(target)
const runs = new Map(props.map(p => [p.name, 0]))
let failure: string | undefined

/** One round: each property for up to RUNS_PER_ROUND runs, with a seed derived from the run's seed. */
async function round (index: number, deadline: number): Promise<void> {
  for (const [i, p] of props.entries()) {
    const left = deadline - Date.now()
    if (left <= 0 || failure !== undefined) return
    const propertySeed = (seed + index * 16 + i) | 0
    const details = await fc.check(p.property, { seed: propertySeed, numRuns: RUNS_PER_ROUND, interruptAfterTimeLimit: left, markInterruptAsFailure: false })
    runs.set(p.name, (runs.get(p.name) ?? 0) + details.numRuns)
    if (details.failed) {
      failure = `${p.name} (round ${index}, property seed ${propertySeed}):\n${fc.defaultReportMessage(details) ?? ''}`
    }
  }
}

const started = Date.now()
const deadline = started + seconds * 1000
await round(0, Math.min(deadline, started + 15_000)) // warm-up: caches, JIT, pools reach their steady size
const heapBefore = heapMb()
let rounds = 1
while (Date.now() < deadline && failure === undefined && escaped.length === 0) {
  await round(rounds++, deadline)
  if (rounds % 5 === 0) console.log(`fuzz: ${Math.round((Date.now() - started) / 1000)} s, ${[...runs.values()].reduce((a, b) => a + b, 0)} requests, heap ${heapMb().toFixed(1)} MB`)
}
const health = await send(target.port, { method: 'GET', path: '/health' })
const heapAfter = heapMb()
await target.close()
rmSync(root, { recursive: true, force: true })

const problems: string[] = []
if (failure !== undefined) problems.push(failure)
problems.push(...escaped)
if (health.status !== 200) problems.push(`the server stopped answering /health: ${health.status}`)
if (heapAfter - heapBefore > heapBoundMb) problems.push(`heap grew ${(heapAfter - heapBefore).toFixed(1)} MB (bound ${heapBoundMb} MB)`)

for (const [name, n] of runs) console.log(`fuzz: ${String(n).padStart(7)} runs  ${name}`)
console.log(`fuzz: heap after GC ${heapBefore.toFixed(1)} MB -> ${heapAfter.toFixed(1)} MB; ${rounds} rounds in ${Math.round((Date.now() - started) / 1000)} s`)
if (problems.length > 0) {
  console.error(`fuzz: FAILED (seed ${seed}; replay with FUZZ_SEED=${seed} npm run fuzz)\n${problems.join('\n\n')}`)
  process.exit(1)
}
console.log(`fuzz: passed (seed ${seed})`)
