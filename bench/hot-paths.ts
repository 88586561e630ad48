// The geotoken hot paths the diagnostics load (CPU per request, profiles), on a geotoken case process of their own.
import { fork, type ChildProcess } from 'node:child_process'
import { openSync } from 'node:fs'
import autocannon from 'autocannon'
import { compiled, type Ready } from './cases/ready.js'

export interface HotPath { path: string, method?: 'POST', headers?: Record<string, string>, body?: string }

export async function startCase (script: string, execArgv: string[] = [], env: Record<string, string> = {}): Promise<{ child: ChildProcess, ready: Ready }> {
  const child = fork(compiled(`cases/${script}.ts`), [], { execArgv, env: { ...process.env, ...env }, stdio: ['ignore', openSync('/dev/null', 'a'), 'inherit', 'ipc'] })
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

export async function load (port: number, hotPath: HotPath, durationS: number): Promise<autocannon.Result> {
  return await autocannon({ url: `http://127.0.0.1:${port}${hotPath.path}`, method: hotPath.method ?? 'GET', headers: hotPath.headers, body: hotPath.body, connections: 32, duration: durationS })
}
