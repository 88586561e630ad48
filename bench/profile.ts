// Diagnostic: a V8 CPU profile of a case process (geotoken, or bare or logged hello) under load on one path, summarised as the functions
// with the most self and inclusive time. Only the loaded window counts (start-up and warm-up are cut off).
// Run: npm run build:bench && node dist/bench/profile.js [token|jwks|items|hello|hello-logged]   (the .cpuprofile stays in the directory printed)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hotPaths, load, startCase } from './hot-paths.js'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const name = process.argv[2] ?? 'jwks'
if (!['token', 'jwks', 'items', 'hello', 'hello-logged'].includes(name)) throw new Error(`unknown case ${name}: token, jwks, items, hello or hello-logged`)
const LOADED_S = 8
const out = mkdtempSync(join(tmpdir(), 'geotoken-profile-'))
const hello = name.startsWith('hello')
const { child, ready } = await startCase(hello ? 'fastify-hello' : 'geotoken', {
  execArgv: ['--cpu-prof', `--cpu-prof-dir=${out}`],
  env: name === 'hello-logged' ? { BENCH_LOGGING: 'production' } : {}
})
const hotPath = hello ? { path: '/' } : (await hotPaths(ready))[name as 'token' | 'jwks' | 'items']
await load(ready.port, hotPath, 3)
const result = await load(ready.port, hotPath, LOADED_S)
console.log(`${name}: ${Math.round(result.requests.average)} req/s, non-2xx ${result.non2xx}; profile in ${out}`)
child.kill('SIGTERM') // the case exits cleanly on SIGTERM, so V8 writes the profile
await new Promise(resolve => child.once('exit', resolve))
if (typeof ready.dir === 'string') rmSync(ready.dir, { recursive: true, force: true })

const file = readdirSync(out).find(f => f.endsWith('.cpuprofile'))
if (file === undefined) throw new Error(`no profile written in ${out}`)
const profile = JSON.parse(readFileSync(join(out, file), 'utf8')) as Profile
// Sample times are cumulative deltas; keep the loaded window (shutdown trimmed too).
const self = new Map<number, number>()
let t = profile.startTime
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  t += dt
  if (t > profile.endTime - (LOADED_S + 0.3) * 1e6 && t < profile.endTime - 0.3e6) self.set(id, (self.get(id) ?? 0) + dt)
})
const nodes = new Map(profile.nodes.map(n => [n.id, n]))
const inclusive = new Map<number, number>()
const sum = (id: number): number => {
  let total = self.get(id) ?? 0
  for (const c of nodes.get(id)?.children ?? []) total += sum(c)
  inclusive.set(id, total)
  return total
}
const all = sum(profile.nodes[0]?.id ?? 1)
const label = ({ callFrame: f }: ProfileNode): string => `${f.functionName === '' ? '(anonymous)' : f.functionName} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
const top = (times: Map<number, number>, n: number): void => {
  const byLabel = new Map<string, number>()
  for (const [id, time] of times) { const key = label(nodes.get(id) as ProfileNode); byLabel.set(key, (byLabel.get(key) ?? 0) + time) }
  for (const [key, time] of [...byLabel].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(time / all * 100).toFixed(1).padStart(5)}%  ${key}`)
}
console.log('--- self time'); top(self, 30)
console.log('--- inclusive time'); top(inclusive, 60)
