// Diagnostic: CPU milliseconds the geotoken process spends per request on each hot path, read from
// /proc/<pid>/stat around an autocannon run. Unlike req/s this barely moves when neighbours load the machine.
// Run: node --import tsx bench/cpu-per-request.ts [token|jwks|items ...]
import { fork } from 'node:child_process'
import { openSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'

const TICK_MS = 10 // USER_HZ = 100 on Linux
const cpuMs = (stat: string): number => {
  const fields = readFileSync(stat, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}
/** CPU of the whole process and of its main thread (the event loop); the rest is the libuv pool, GC, etc. */
const usage = (pid: number): { all: number, main: number } => ({ all: cpuMs(`/proc/${pid}/stat`), main: cpuMs(`/proc/${pid}/task/${pid}/stat`) })

const child = fork(join(import.meta.dirname, 'cases', 'geotoken.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', openSync('/dev/null', 'a'), 'inherit', 'ipc'] })
const ready = await new Promise<{ port: number, clientId: string, clientSecret: string, dir: string }>(resolve => child.on('message', (m: { ready?: never }) => { if (m.ready !== undefined) resolve(m.ready) }))
const basic = `Basic ${Buffer.from(`${ready.clientId}:${ready.clientSecret}`).toString('base64')}`
const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }
const tokenRes = await fetch(`http://127.0.0.1:${ready.port}/oauth/token`, { method: 'POST', headers: form, body: 'grant_type=client_credentials' })
const token = ((await tokenRes.json()) as { access_token: string }).access_token
const requests: Record<string, { path: string, method?: 'POST', headers?: Record<string, string>, body?: string }> = {
  token: { path: '/oauth/token', method: 'POST', headers: form, body: 'grant_type=client_credentials' },
  jwks: { path: '/.well-known/jwks.json' },
  items: { path: '/features/collections/sites/items?bbox=5,47,7,49&limit=10', headers: { authorization: `Bearer ${token}` } }
}
const which = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(requests)
for (const name of which) {
  const r = requests[name]
  if (r === undefined) throw new Error(`unknown case ${name}`)
  const run = async (duration: number) => await autocannon({ url: `http://127.0.0.1:${ready.port}${r.path}`, method: r.method ?? 'GET', headers: r.headers, body: r.body, connections: 32, duration })
  await run(2)
  const before = usage(child.pid as number)
  const result = await run(5)
  const after = usage(child.pid as number)
  const perRequest = (ms: number): string => `${(ms / result.requests.total * 1000).toFixed(0)} µs`
  console.log(`${name.padEnd(6)} ${Math.round(result.requests.total / result.duration)} req/s; CPU per request: ${perRequest(after.all - before.all)} in all, ` +
    `${perRequest(after.main - before.main)} on the event loop; non-2xx ${result.non2xx}`)
}
child.kill()
rmSync(ready.dir, { recursive: true, force: true })
