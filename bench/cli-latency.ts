// `npm run bench:cli`: how long the commands of the first hour take, as a user types them (issue 14): `npm start`
// until /ready answers 200 on the seed data (the first start, which creates keys and loads the seed, and a later
// one), and each admin command through `npm run --silent`. Baselines in the same run: a bare `node -e ''` and
// `npm run --silent` of an empty script, which is what npm and Node cost before any geotoken code runs.
import { spawn, execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const ROOT = new URL('../..', import.meta.url).pathname
const RUNS = Number(process.env.BENCH_RUNS ?? 5)

async function freePort (): Promise<number> {
  return await new Promise(resolve => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => { resolve(port) }) })
  })
}

/** A checkout as after `npm install`: this one's build, scripts and dependencies linked, its own data/ and keys/. */
async function replica (): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'geotoken-bench-cli-'))
  for (const name of ['node_modules', 'dist', 'scripts', 'src', 'tsconfig.json', 'tsconfig.build.json']) await symlink(join(ROOT, name), join(dir, name))
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  pkg.scripts.noop = 'node -e ""'
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg))
  await mkdir(join(dir, 'data'))
  await copyFile(join(ROOT, 'data', 'seed.geojson'), join(dir, 'data', 'seed.geojson'))
  return dir
}

async function timed (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now()
  await new Promise<void>(resolve => { execFile(cmd, args, { cwd, env: { ...process.env, ...env } }, () => { resolve() }) })
  return performance.now() - t0
}

/** `npm start` until GET /ready answers 200; the process group is then stopped as Ctrl-C would. */
async function startToReady (cwd: string): Promise<number> {
  const port = await freePort()
  const t0 = performance.now()
  const child = spawn('npm', ['start'], { cwd, env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn' }, detached: true, stdio: 'ignore' })
  let ms = NaN
  for (let i = 0; i < 3000; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(r => r.status === 200, () => false)
    if (ok) { ms = performance.now() - t0; break }
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  process.kill(-(child.pid as number), 'SIGINT')
  await new Promise(resolve => child.once('exit', resolve))
  return ms
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const fmt = (ms: number): string => ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`

const rows: Array<[string, number[]]> = []
const firstStarts: number[] = []
const laterStarts: number[] = []
const dirs: string[] = []
for (let i = 0; i < RUNS; i++) {
  const dir = await replica()
  dirs.push(dir)
  firstStarts.push(await startToReady(dir))
  laterStarts.push(await startToReady(dir))
}
rows.push(['npm start to ready, first start (keys generated, 3,000 seed features loaded)', firstStarts])
rows.push(['npm start to ready, a later start (keys and store on disk)', laterStarts])
const cwd = dirs[0] as string
const commands: Array<[string, string[]]> = [
  ['baseline: node -e ""', ['node', '-e', '']],
  ['baseline: npm run --silent of an empty script', ['npm', 'run', '--silent', 'noop']],
  ['npm run --silent clients -- list', ['npm', 'run', '--silent', 'clients', '--', 'list']],
  ['npm run --silent add-client -- --org bench --scopes features:read --json', ['npm', 'run', '--silent', 'add-client', '--', '--org', 'bench', '--scopes', 'features:read', '--json']],
  ['npm run --silent clients -- rotate-secret ID --grace 1h', ['npm', 'run', '--silent', 'clients', '--', 'rotate-secret', 'ID', '--grace', '1h']],
  ['npm run --silent rotate-keys -- --dry-run', ['npm', 'run', '--silent', 'rotate-keys', '--', '--dry-run']],
  ['npm run --silent rotate-keys -- --force', ['npm', 'run', '--silent', 'rotate-keys', '--', '--force']]
]
const clientId = (JSON.parse(await readFile(join(cwd, 'data', 'demo-credentials.json'), 'utf8')) as { acme: { client_id: string } }).acme.client_id
for (const [label, [cmd, ...args]] of commands) {
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) times.push(await timed(cmd as string, args.map(a => a === 'ID' ? clientId : a), cwd))
  rows.push([label, times])
}
for (const dir of dirs) await rm(dir, { recursive: true, force: true })

const load = (await readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ')[0]
console.log(`| command (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, load average ${load}; median of ${RUNS}) | median | runs |`)
console.log('|---|---:|---|')
for (const [label, times] of rows) console.log(`| ${label} | ${fmt(median(times))} | ${times.map(fmt).join(' / ')} |`)
