// `npm run bench:koop`: what geotoken/koop costs a Koop query. The example Koop app (examples/koop) runs as three
// processes, open (no auth plugin) and guarded by the plugin with and without its verified-token cache, all with
// the same provider and Koop's cache warm; autocannon loads the same FeatureServer query on each in turn
// (interleaved rounds, median), every answer checked byte for byte, as an ArcGIS client sends it: ?token=….
// Besides req/s it reads the Koop process's CPU time from /proc around each run (as bench/cpu-per-request.ts
// does): CPU per answered request barely moves when neighbours load the machine, req/s does. Last, the plugin's
// authorize() alone, called in this process on the same token: its own cost, without Koop or HTTP around it.
// Options (environment): BENCH_DURATION_S=5 BENCH_ROUNDS=5 BENCH_CONNECTIONS=16 BENCH_LOG=/dev/null
import autocannon from 'autocannon'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { koopAuth } from '../src/koop/plugin.js'
import type { Ready } from './cases/ready.js'
import { startCase } from './hot-paths.js'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16)
const LOG_FILE = process.env.BENCH_LOG ?? '/dev/null'
const QUERY = '/orgs/rest/services/sites/FeatureServer/0/query?where=1%3D1&outFields=*&f=json'

interface Case { id: string, label: string, pid: number, port: number, path: string, headers?: Record<string, string>, expected: string }
interface Measurement { rps: number, cpuUs: number, p50: number, p99: number, errors: number }

/** User + kernel CPU ms of a process (utime, stime in USER_HZ = 100 ticks per second). */
function cpuMs (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const children: ChildProcess[] = []
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })
async function start (env: Record<string, string>): Promise<Ready & { pid: number }> {
  const { child, ready } = await startCase('koop', { env, logFile: LOG_FILE, spawned: c => children.push(c) })
  return { ...ready, pid: child.pid as number }
}

async function measure (c: Case, durationS: number): Promise<Measurement> {
  const before = cpuMs(c.pid)
  const result = await autocannon({ url: `http://127.0.0.1:${c.port}${c.path}`, headers: c.headers, connections: CONNECTIONS, duration: durationS, expectBody: c.expected })
  const cpu = cpuMs(c.pid) - before
  // Koop answers ArcGIS errors (a refused token too) with HTTP 200: only the expected body counts as an answer.
  const answered = result['2xx'] - result.mismatches
  const errors = result.non2xx + result.errors + result.timeouts + result.mismatches
  return { rps: answered / result.duration, cpuUs: cpu * 1000 / answered, p50: result.latency.p50, p99: result.latency.p99, errors }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

const geotoken = await startCase('geotoken', { logFile: LOG_FILE, spawned: child => children.push(child) })
const g = geotoken.ready as Ready & { issuer: string, audience: string, clientId: string, clientSecret: string, dir: string }
process.on('exit', () => rmSync(g.dir, { recursive: true, force: true }))
const auth = { BENCH_ISSUER: g.issuer, BENCH_AUDIENCE: g.audience }
const [open, guarded, uncached] = await Promise.all([
  start({ BENCH_KOOP: 'open' }), start({ BENCH_KOOP: 'guarded', ...auth }), start({ BENCH_KOOP: 'guarded', BENCH_KOOP_TOKEN_CACHE: '0', ...auth })
])
// The token as ArcGIS clients get it: from the guarded Koop's generateToken.
const form = new URLSearchParams({ username: g.clientId, password: g.clientSecret, f: 'json' })
const { token } = await (await fetch(`http://127.0.0.1:${guarded.port}/orgs/rest/generateToken`, { method: 'POST', body: form })).json() as { token: string }
const expected = await (await fetch(`http://127.0.0.1:${open.port}${QUERY}`)).text()
const cases: Case[] = [
  { id: 'open', label: 'Koop query, no auth plugin', pid: open.pid, port: open.port, path: QUERY, expected },
  { id: 'token', label: 'Koop query + geotoken/koop, ?token=… (verified-token cache on, the default)', pid: guarded.pid, port: guarded.port, path: `${QUERY}&token=${token}`, expected },
  { id: 'bearer', label: 'Koop query + geotoken/koop, Authorization: Bearer', pid: guarded.pid, port: guarded.port, path: QUERY, headers: { authorization: `Bearer ${token}` }, expected },
  { id: 'uncached', label: 'Koop query + geotoken/koop, ?token=…, tokenCacheSize: 0 (RS256 verify every request)', pid: uncached.pid, port: uncached.port, path: `${QUERY}&token=${token}`, expected }
]
for (const c of cases) {
  const body = await (await fetch(`http://127.0.0.1:${c.port}${c.path}`, { headers: c.headers })).text()
  if (body !== expected) throw new Error(`${c.id}: the answer is not the open query's: ${body.slice(0, 200)}`)
}

console.log(`geotoken/koop overhead: ${availableParallelism()} cores (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`)
console.log(`${ROUNDS} interleaved rounds of ${DURATION_S} s per case, ${CONNECTIONS} connections, ${expected.length} byte answer (3 features)\n`)
for (const c of cases) await measure(c, 1) // warm-up: JIT, Koop's cache, the plugin's key set
const runs = new Map<string, Measurement[]>(cases.map(c => [c.id, []]))
for (let round = 0; round < ROUNDS; round++) {
  // Each round starts with the next case, so a drift of the machine's load favours none of them.
  for (let i = 0; i < cases.length; i++) {
    const c = cases[(round + i) % cases.length] as Case
    runs.get(c.id)?.push(await measure(c, DURATION_S))
  }
}
const rows = cases.map(c => {
  const m = runs.get(c.id) ?? []
  return { c, rps: median(m.map(x => x.rps)), cpuUs: median(m.map(x => x.cpuUs)), p50: median(m.map(x => x.p50)), p99: median(m.map(x => x.p99)), errors: m.reduce((n, x) => n + x.errors, 0) }
})
const base = rows[0]
if (base === undefined) throw new Error('no baseline')
console.log('| case | req/s (median) | req/s vs open | Koop CPU µs per query (median) | CPU added vs open | p50 ms | p99 ms | errors |')
console.log('|---|---|---|---|---|---|---|---|')
for (const r of rows) {
  const added = r === base ? '' : `${(r.cpuUs - base.cpuUs).toFixed(0)} µs (${((r.cpuUs / base.cpuUs - 1) * 100).toFixed(0)} %)`
  console.log(`| ${r.c.label} | ${r.rps.toFixed(0)} | ${(r.rps / base.rps).toFixed(2)} | ${r.cpuUs.toFixed(0)} | ${added} | ${r.p50} | ${r.p99} | ${r.errors} |`)
}

/** Mean µs of one authorize() on a request as Express hands it to Koop, the token in its query. */
async function authorizeUs (tokenCacheSize: number, calls: number): Promise<number> {
  const { authorize } = koopAuth({ issuer: g.issuer, audience: g.audience, tokenCacheSize })
  const request = (): Parameters<typeof authorize>[0] => ({ method: 'GET', url: `${QUERY}&token=${token}`, originalUrl: `${QUERY}&token=${token}`, headers: {}, query: { where: '1=1', outFields: '*', f: 'json', token }, body: {} })
  for (let i = 0; i < Math.min(calls, 200); i++) await authorize(request())
  const started = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) await authorize(request())
  return Number(process.hrtime.bigint() - started) / 1000 / calls
}
console.log(`\nauthorize() alone, in-process: ${(await authorizeUs(10_000, 20_000)).toFixed(1)} µs per call with the verified-token cache (default), ` +
  `${(await authorizeUs(0, 1_000)).toFixed(0)} µs with tokenCacheSize: 0`)
const failed = rows.some(r => r.errors > 0)
if (failed) console.error('\nsome answers were errors or not the expected features: the figures above do not count')
process.exit(failed ? 1 : 0)
