// The runner's side of every benchmark process: starting a case, loading one of its paths with autocannon, and
// the geotoken hot paths that `npm run bench` and the diagnostics (CPU per request, profiles) load.
import { fork, type ChildProcess } from 'node:child_process'
import { openSync } from 'node:fs'
import autocannon from 'autocannon'
import { compiled, type Ready } from './cases/ready.js'

export interface HotPath { path: string, method?: 'GET' | 'POST', headers?: Record<string, string>, body?: string }

export interface CaseOptions {
  execArgv?: string[]
  env?: Record<string, string>
  /** Where the case's log lines go: a file, as production sends them, not a pipe the runner must drain. */
  logFile?: string
  /** Sees the child as soon as it is forked, so a runner can stop it even if it never gets ready. */
  spawned?: (child: ChildProcess) => void
}

/** Starts bench/cases/<script>.ts, compiled, in its own process with NODE_ENV=production; resolves on its "ready". */
export async function startCase (script: string, opts: CaseOptions = {}): Promise<{ child: ChildProcess, ready: Ready }> {
  const child = fork(compiled(`cases/${script}.ts`), [], {
    execArgv: opts.execArgv ?? [],
    env: { ...process.env, NODE_ENV: 'production', ...opts.env },
    stdio: ['ignore', openSync(opts.logFile ?? '/dev/null', 'a'), 'inherit', 'ipc']
  })
  opts.spawned?.(child)
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('exit', code => { reject(new Error(`bench case ${script} exited with ${code} before it was ready`)) })
    child.on('message', (m: { ready?: Ready }) => { if (m.ready !== undefined) resolve(m.ready) })
  })
  return { child, ready }
}

/** Token issuance, the JWKS and a guarded bbox page (with a token issued here), as `npm run bench` loads them. */
export async function hotPaths (ready: Ready): Promise<Record<'token' | 'jwks' | 'items', HotPath>> {
  const basic = `Basic ${Buffer.from(`${String(ready.clientId)}:${String(ready.clientSecret)}`).toString('base64')}`
  const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }
  const response = await fetch(`http://127.0.0.1:${ready.port}/oauth/token`, { method: 'POST', headers: form, body: 'grant_type=client_credentials' })
  const { access_token: token } = await response.json() as { access_token: string }
  return {
    token: { path: '/oauth/token', method: 'POST', headers: form, body: 'grant_type=client_credentials' },
    jwks: { path: '/.well-known/jwks.json' },
    items: { path: '/features/collections/sites/items?bbox=5,47,7,49&limit=10', headers: { authorization: `Bearer ${token}` } }
  }
}

/** autocannon on loopback for a fixed duration and number of connections. */
export async function load (port: number, hotPath: HotPath, durationS: number, connections = 32): Promise<autocannon.Result> {
  return await autocannon({ url: `http://127.0.0.1:${port}${hotPath.path}`, method: hotPath.method ?? 'GET', headers: hotPath.headers, body: hotPath.body, connections, duration: durationS })
}
