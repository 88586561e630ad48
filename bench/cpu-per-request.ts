// Diagnostic: CPU the server process spends per request on each hot path, read from /proc/<pid>/stat around an
// autocannon run, next to bare Fastify hello (the baseline) and to autocannon's own CPU per request. Unlike
// req/s this barely moves when neighbours load the machine, and it says which side of a ratio moved.
// Run: npm run build:bench && node dist/bench/cpu-per-request.js [hello|hello-logged|token|jwks|items ...]
import { readFileSync, rmSync } from 'node:fs'
import { hotPaths, load, startCase, type HotPath } from './hot-paths.js'

const TICK_MS = 10 // USER_HZ = 100 on Linux
/** User and kernel CPU ms of a process or thread (utime, stime). */
const cpuMs = (stat: string): { user: number, kernel: number } => {
  const fields = readFileSync(stat, 'utf8').split(') ')[1]?.split(' ') ?? []
  return { user: Number(fields[11]) * TICK_MS, kernel: Number(fields[12]) * TICK_MS }
}
/**
 * CPU of the whole process, the kernel's part of it (sockets, mostly: on loopback the sender's system call also
 * delivers to, and wakes, the reader), and of its main thread (the event loop); the rest is the libuv pool, GC, etc.
 */
const usage = (pid: number): { all: number, kernel: number, main: number } => {
  const whole = cpuMs(`/proc/${pid}/stat`)
  const main = cpuMs(`/proc/${pid}/task/${pid}/stat`)
  return { all: whole.user + whole.kernel, kernel: whole.kernel, main: main.user + main.kernel }
}

async function measure (name: string, script: string, pick: (paths: Record<string, HotPath>) => HotPath, env: Record<string, string> = {}): Promise<void> {
  const { child, ready } = await startCase(script, { env })
  try {
    const hotPath = pick(script === 'geotoken' ? await hotPaths(ready) : {})
    await load(ready.port, hotPath, 2)
    const before = usage(child.pid as number)
    const self = process.cpuUsage()
    const result = await load(ready.port, hotPath, 5)
    const after = usage(child.pid as number)
    const { user, system } = process.cpuUsage(self)
    const perRequest = (ms: number): string => `${(ms / result.requests.total * 1000).toFixed(0)} µs`
    console.log(`${name.padEnd(6)} ${Math.round(result.requests.total / result.duration)} req/s; server CPU per request: ${perRequest(after.all - before.all)} in all (${perRequest(after.kernel - before.kernel)} in the kernel), ` +
      `${perRequest(after.main - before.main)} on the event loop; autocannon ${perRequest((user + system) / 1000)}; non-2xx ${result.non2xx}`)
  } finally {
    child.kill()
    if (typeof ready.dir === 'string') rmSync(ready.dir, { recursive: true, force: true })
  }
}

const which = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['hello', 'hello-logged', 'token', 'jwks', 'items']
for (const name of which) {
  if (name === 'hello') await measure(name, 'fastify-hello', () => ({ path: '/' }))
  else if (name === 'hello-logged') await measure(name, 'fastify-hello', () => ({ path: '/' }), { BENCH_LOGGING: 'production' })
  else if (['token', 'jwks', 'items'].includes(name)) await measure(name, 'geotoken', paths => paths[name] as HotPath)
  else throw new Error(`unknown case ${name}: hello, hello-logged, token, jwks or items`)
}
