// docs "Running several instances": examples/several-instances/run.sh runs as written. It starts Redis, three
// instances and HAProxy, prints the balancer URL and a client; a token got through the balancer works on every
// instance; Ctrl-C (SIGINT to its process group, as a terminal sends it) stops everything and deletes its directory.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { basic, form } from '../helpers/app.js'
import { freePort } from '../helpers/net.js'
import { ROOT, userEnv } from '../helpers/npm.js'

const listening = async (port: number): Promise<boolean> => await new Promise(resolve => {
  const s = connect(port, '127.0.0.1')
  s.once('connect', () => { s.destroy(); resolve(true) })
  s.once('error', () => { resolve(false) })
})

t.test('run.sh starts Redis, three instances and HAProxy, serves tokens through the balancer, and stops on Ctrl-C', async t => {
  const [balancer, redis, ...instances] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()] as [number, number, number, number, number]
  const env = userEnv({ GEOTOKEN_PORT: String(balancer), REDIS_PORT: String(redis), INSTANCE_PORTS: instances.join(' ') })
  const child = spawn('bash', ['examples/several-instances/run.sh'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += String(d) })
  child.stderr.on('data', (d: Buffer) => { out += String(d) })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => child.once('exit', (code, signal) => { resolve({ code, signal }) }))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) { process.kill(-(child.pid as number), 'SIGTERM'); await exited }
  })

  const started = performance.now()
  while (!/^client_secret: /m.test(out) && child.exitCode === null && performance.now() - started < 90_000) await new Promise(resolve => setTimeout(resolve, 100))
  const url = /^balancer: (\S+)$/m.exec(out)?.[1]
  t.equal(url, `http://127.0.0.1:${balancer}`, `it prints the balancer URL:\n${out}`)
  const id = /^client_id: (\S+)$/m.exec(out)?.[1] as string
  const secret = /^client_secret: (\S+)$/m.exec(out)?.[1] as string
  const work = /logs and data in (\S+)$/m.exec(out)?.[1] as string
  t.ok(existsSync(work), 'its working directory')
  t.comment(`up after ${((performance.now() - started) / 1000).toFixed(1)} s`)

  const res = await fetch(`${url as string}/oauth/token`, { method: 'POST', headers: { ...form, ...basic(id, secret) }, body: 'grant_type=client_credentials' })
  t.equal(res.status, 200, 'a token through the balancer, for the client it printed')
  const { access_token: jwt } = await res.json() as { access_token: string }
  for (const port of [...instances, balancer]) {
    const items = await fetch(`http://127.0.0.1:${port}/features/collections/sites/items?limit=1`, { headers: { authorization: `Bearer ${jwt}` } })
    t.equal(items.status, 200, `it verifies on port ${port}`)
  }

  process.kill(-(child.pid as number), 'SIGINT')
  const { code } = await exited
  t.equal(code, 130, 'Ctrl-C ends it with the status of an interrupt')
  t.match(out, /^stopping: /m)
  t.notOk(existsSync(work), 'and deletes its directory')
  for (const port of [balancer, redis, ...instances]) t.notOk(await listening(port), `nothing listens on ${port} any more`)
})
