// `npm run bench`: issue 7's HTTP benchmark. Starts every case as its own process, loads them in turn with
// autocannon on loopback (interleaved, repeated, median taken), prints one table with the target ratios, and
// writes it to bench/results.md. Fails only on errors (a non-2xx or a socket error where a 2xx was expected).
// Options (environment): BENCH_DURATION_S=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=32 BENCH_ONLY=token,hello
// BENCH_REDIS_FSYNC=always|everysec|none (the token-state Redis), BENCH_REDIS_ONE=1 (rate-limit counters on it too)
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { availableParallelism, cpus } from 'node:os'
import { join } from 'node:path'
import { freePort, repoRoot, type Ready } from './cases/ready.js'
import { load, startCase, type HotPath } from './hot-paths.js'

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32)
const WARMUP_S = 2
const ONLY = process.env.BENCH_ONLY?.split(',')
// Log lines go where production would send them: a file, not a pipe the runner must drain.
const LOG_FILE = process.env.BENCH_LOG ?? '/dev/null'

interface Measurement { rps: number, p50: number, p99: number, errors: number }
interface Case { id: string, label: string, measure: (durationS: number) => Promise<Measurement> }

const children: ChildProcess[] = []

/** Starts a case (its log lines to BENCH_LOG), stopped with the runner however it ends. */
async function start (script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess, ready: Ready }> {
  return await startCase(script, { env, logFile: LOG_FILE, spawned: child => children.push(child) })
}

/**
 * A local redis-server for the STATE_STORE=redis cases, persisting as docs require for "nothing acknowledged is
 * lost" (appendfsync always): the figures include that cost. BENCH_REDIS_FSYNC=everysec measures the trade-off.
 */
async function startRedis (fsync: string = process.env.BENCH_REDIS_FSYNC ?? 'always'): Promise<string> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-bench-redis-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  const persistence = fsync === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync]
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence,
    '--save', '', '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' })
  children.push(child)
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) }).on('error', () => { resolve(false) })
    })
    if (up) return `redis://127.0.0.1:${port}`
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error('redis-server did not start (is it installed?)')
}

async function measure (port: number, request: HotPath, durationS: number): Promise<Measurement> {
  const result = await load(port, request, durationS, CONNECTIONS)
  return {
    // Only answers that count: a 429 or a 401 must not flatter a case (they are reported as errors too).
    rps: result['2xx'] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts
  }
}

function httpCase (id: string, label: string, port: number, request: HotPath): Case {
  return { id, label, measure: async durationS => await measure(port, request, durationS) }
}

/** The signing-limit case measures itself (no HTTP): the runner only says for how long. */
function signingCase (child: ChildProcess): Case {
  return {
    id: 'sign',
    label: 'RS256 signing limit (node:crypto async, all cores, no HTTP)',
    measure: async durationS => await new Promise<Measurement>(resolve => {
      const onMessage = (message: { result?: Measurement }): void => {
        if (message.result === undefined) return
        child.off('message', onMessage)
        resolve(message.result)
      }
      child.on('message', onMessage)
      child.send({ run: durationS * 1000 })
    })
  }
}

async function tokenFrom (port: number, path: string, clientId: string, secret: string, extra = ''): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials${extra}`
  })
  if (res.status !== 200) throw new Error(`token request to ${path} failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { access_token: string }).access_token
}

function basic (clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

async function setUp (): Promise<Case[]> {
  // The deployment docs/redis.md recommends: token state on a Redis with appendfsync always, the rate-limit
  // counters (REDIS_RATE_LIMIT_URL) on one without persistence.
  const [redisUrl, countersUrl] = await Promise.all([startRedis(), startRedis('none')])
  const [sign, hello, helloLogged, geotoken, geotokenRedis, oidc] = await Promise.all([
    start('signing-limit'), start('fastify-hello'), start('fastify-hello', { BENCH_LOGGING: 'production' }), start('geotoken'),
    start('geotoken', { STATE_STORE: 'redis', REDIS_URL: redisUrl, REDIS_RATE_LIMIT_URL: process.env.BENCH_REDIS_ONE === '1' ? '' : countersUrl }), start('oidc-provider')
  ])
  type Geotoken = Ready & { issuer: string, audience: string, clientId: string, clientSecret: string, dir: string }
  const g = geotoken.ready as Geotoken
  const gr = geotokenRedis.ready as Geotoken
  process.on('exit', () => { for (const d of [g.dir, gr.dir]) rmSync(d, { recursive: true, force: true }) })
  const token = await tokenFrom(g.port, '/oauth/token', g.clientId, g.clientSecret)
  const tokenRedis = await tokenFrom(gr.port, '/oauth/token', gr.clientId, gr.clientSecret)
  // Express verifies the very same token with the PEM of the key that signed it.
  const kid = (JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid
  const jwks = await (await fetch(`http://127.0.0.1:${g.port}/.well-known/jwks.json`)).json() as { keys: Array<JsonWebKey & { kid: string }> }
  const jwk = jwks.keys.find(k => k.kid === kid) as JsonWebKey
  const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }) as string
  const verifierEnv = { BENCH_ISSUER: g.issuer, BENCH_AUDIENCE: g.audience, BENCH_PEM: pem }
  const [express, consumerStatic, consumerRemote] = await Promise.all([
    start('express-jsonwebtoken', verifierEnv),
    start('consumer', { ...verifierEnv, BENCH_KEYS: 'static' }),
    start('consumer', { ...verifierEnv, BENCH_KEYS: 'remote' }).catch((err: Error) => { console.warn(`skipping the remote verifier case: ${err.message}`); return undefined })
  ])
  const o = oidc.ready as Ready & { clientId: string, clientSecret: string }
  await tokenFrom(o.port, '/token', o.clientId, o.clientSecret, '&scope=features%3Aread') // fails fast if misconfigured
  const bearer = { authorization: `Bearer ${token}` }
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const cases: Case[] = [
    signingCase(sign.child),
    httpCase('hello', 'bare Fastify 5 hello-world', hello.ready.port, { method: 'GET', path: '/' }),
    httpCase('hello-logged', 'the same hello with geotoken\'s logging (info, one access line per request)', helloLogged.ready.port, { method: 'GET', path: '/' }),
    httpCase('express', 'Express 5 + jsonwebtoken, RS256 Bearer verified with the PEM', express.ready.port, { method: 'GET', path: '/protected', headers: bearer }),
    httpCase('oidc', 'oidc-provider 9, client_credentials, JWT access token', o.port,
      { method: 'POST', path: '/token', headers: { ...form, authorization: basic(o.clientId, o.clientSecret) }, body: 'grant_type=client_credentials&scope=features%3Aread' }),
    httpCase('token', 'geotoken POST /oauth/token client_credentials', g.port,
      { method: 'POST', path: '/oauth/token', headers: { ...form, authorization: basic(g.clientId, g.clientSecret) }, body: 'grant_type=client_credentials' }),
    httpCase('jwks', 'geotoken GET /.well-known/jwks.json', g.port, { method: 'GET', path: '/.well-known/jwks.json' }),
    httpCase('items', 'geotoken guarded GET /features/collections/sites/items?bbox=5,47,7,49&limit=10', g.port,
      { method: 'GET', path: '/features/collections/sites/items?bbox=5,47,7,49&limit=10', headers: bearer }),
    httpCase('token-redis', `geotoken POST /oauth/token client_credentials, STATE_STORE=redis (local Redis, appendfsync ${process.env.BENCH_REDIS_FSYNC ?? 'always'}; ${process.env.BENCH_REDIS_ONE === '1' ? 'counters on it too' : 'counters on a second one, no persistence'})`, gr.port,
      { method: 'POST', path: '/oauth/token', headers: { ...form, authorization: basic(gr.clientId, gr.clientSecret) }, body: 'grant_type=client_credentials' }),
    httpCase('items-redis', 'geotoken guarded items (as above), STATE_STORE=redis', gr.port,
      { method: 'GET', path: '/features/collections/sites/items?bbox=5,47,7,49&limit=10', headers: { authorization: `Bearer ${tokenRedis}` } }),
    httpCase('consumer-static', 'consumer app, guard with a static public key', consumerStatic.ready.port, { method: 'GET', path: '/me', headers: bearer })
  ]
  if (consumerRemote !== undefined) {
    cases.push(httpCase('consumer-remote', 'consumer app, remote verifier plugin (JWKS)', consumerRemote.ready.port, { method: 'GET', path: '/me', headers: bearer }))
  }
  return cases.filter(c => ONLY === undefined || ONLY.includes(c.id))
}

/** A ratio the issue sets (`min`), or one shown for reference only. */
interface Target { label: string, numerator: string, denominator: string, min?: number }
const TARGETS: Target[] = [
  { label: 'POST /oauth/token vs RS256 signing limit', numerator: 'token', denominator: 'sign', min: 0.8 },
  { label: 'POST /oauth/token vs oidc-provider token endpoint', numerator: 'token', denominator: 'oidc', min: 3 },
  { label: 'GET /.well-known/jwks.json vs bare Fastify hello', numerator: 'jwks', denominator: 'hello', min: 0.9 },
  { label: 'guarded items vs bare Fastify hello', numerator: 'items', denominator: 'hello', min: 0.6 },
  { label: 'guarded items vs Express + jsonwebtoken', numerator: 'items', denominator: 'express', min: 8 },
  // Issue 16: shared token state must cost little where it is read (the guard: a local copy) and be bounded where written.
  { label: 'guarded items: STATE_STORE=redis vs default', numerator: 'items-redis', denominator: 'items', min: 0.9 },
  { label: 'POST /oauth/token: STATE_STORE=redis vs default', numerator: 'token-redis', denominator: 'token', min: 0.8 },
  { label: 'consumer: remote verifier vs static public key', numerator: 'consumer-remote', denominator: 'consumer-static', min: 0.9 },
  // What logging alone leaves of hello, and the routes against that logged ceiling: no target, for reading the above.
  { label: 'reference: hello with production logging vs bare hello', numerator: 'hello-logged', denominator: 'hello' },
  { label: 'reference: JWKS vs hello with production logging', numerator: 'jwks', denominator: 'hello-logged' },
  { label: 'reference: guarded items vs hello with production logging', numerator: 'items', denominator: 'hello-logged' }
]

function machine (): string {
  return `${availableParallelism()} cores (nproc), ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`
}

function report (cases: Case[], runs: Map<string, Measurement[]>): { text: string, markdown: string } {
  const rows = cases.map(c => {
    const m = runs.get(c.id) ?? []
    return { c, rps: median(m.map(x => x.rps)), p50: median(m.map(x => x.p50)), p99: median(m.map(x => x.p99)), all: m.map(x => Math.round(x.rps)).join(' / ') }
  })
  const byId = new Map(rows.map(r => [r.c.id, r.rps]))
  const ms = (v: number): string => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`
  const date = new Date().toISOString().slice(0, 10)
  const head = `${date}, ${machine()}; ${CONNECTIONS} connections, ${DURATION_S} s × ${ROUNDS} rounds interleaved, median`
  const md = [
    `| case (${head}) | req/s | p50 | p99 | req/s per round |`, '|---|---:|---:|---:|---|',
    ...rows.map(r => `| ${r.c.label} | ${Math.round(r.rps).toLocaleString('en')} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.all} |`),
    '', '| target (ratio of req/s in this run) | needed | measured | |', '|---|---:|---:|---|',
    ...TARGETS.map(t => {
      const n = byId.get(t.numerator)
      const d = byId.get(t.denominator)
      const needed = t.min === undefined ? '–' : `≥ ${t.min}`
      if (n === undefined || d === undefined) return `| ${t.label} | ${needed} | not measured | |`
      const ratio = n / d
      return `| ${t.label} | ${needed} | ${ratio.toFixed(2)} | ${t.min === undefined ? '' : ratio >= t.min ? 'pass' : 'miss'} |`
    })
  ].join('\n')
  return { text: md, markdown: `${md}\n\nCommand: \`npm run bench\`. HTTP latencies are autocannon's (1 ms resolution); the signing limit's are per signature.\n` }
}

async function main (): Promise<number> {
  console.log(`geotoken benchmark: ${machine()}`)
  const cases = await setUp()
  console.log(`cases: ${cases.map(c => c.id).join(', ')}; warming up`)
  // A short unmeasured load lets the JIT (and any cache) settle before round 1.
  for (const c of cases) await c.measure(WARMUP_S)
  const runs = new Map<string, Measurement[]>()
  let errors = 0
  for (let round = 1; round <= ROUNDS; round++) {
    // Interleaved, and each round in another order, so a noisy neighbour does not always hit the same case.
    const order = round % 2 === 1 ? cases : [...cases].reverse()
    for (const c of order) {
      const m = await c.measure(DURATION_S)
      if (m.errors > 0) { errors += m.errors; console.error(`${c.id}: ${m.errors} errors or non-2xx answers in round ${round}`) }
      runs.set(c.id, [...(runs.get(c.id) ?? []), m])
      console.log(`round ${round} ${c.id.padEnd(16)} ${Math.round(m.rps).toString().padStart(7)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms`)
    }
  }
  const { text, markdown } = report(cases, runs)
  console.log(`\n${text}`)
  writeFileSync(join(repoRoot(), 'bench', 'results.md'), markdown)
  console.log('\nwritten to bench/results.md')
  return errors > 0 ? 1 : 0
}

main().then(code => { for (const child of children) child.kill(); process.exit(code) }, (err: unknown) => {
  console.error(err)
  for (const child of children) child.kill()
  process.exit(1)
})
