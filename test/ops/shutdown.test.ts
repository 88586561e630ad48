// Graceful shutdown of the real process: SIGTERM lets in-flight requests finish, closes the store, exits 0.
import t from 'tap'
import { request as httpRequest, Agent } from 'node:http'
import { processFixture, startServer as start } from '../helpers/process.js'
import { tokenOverHttp } from '../helpers/net.js'

interface Answer { status: number, body: string, headers: Record<string, unknown> }

t.test('SIGTERM finishes in-flight requests, flushes and closes the store, and exits 0', async t => {
  const { client, base, env } = await processFixture(t, { LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_S: '20' })
  let proc = start(env)
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await proc.ready()

  const token = await tokenOverHttp(base, client)
  const items = '/features/collections/sites/items'
  const agent = new Agent({ keepAlive: true })

  /** A POST whose body is sent in two halves `gapMs` apart: it is in flight for that long. */
  const slowPost = async (name: string, gapMs: number): Promise<Answer> => await new Promise((resolve, reject) => {
    const body = JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [5, 45] }, properties: { name, kind: 'depot' } })
    const req = httpRequest({
      port: Number(env.PORT), host: '127.0.0.1', path: items, method: 'POST', agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/geo+json', 'content-length': String(Buffer.byteLength(body)) }
    }, res => {
      let text = ''
      res.on('data', (d: Buffer) => { text += String(d) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }) })
    })
    req.on('error', reject)
    req.write(body.slice(0, 20))
    setTimeout(() => { req.end(body.slice(20)) }, gapMs)
  })

  // Ten writes in flight, the slowest finishing its upload 1.5 s after the signal.
  const inFlight = Array.from({ length: 10 }, async (_, i) => await slowPost(`in-flight-${i}`, 300 + i * 150))
  await new Promise(resolve => setTimeout(resolve, 150))
  const signalledAt = Date.now()
  proc.child.kill('SIGTERM')
  const answers = await Promise.all(inFlight)
  const exit = await proc.exited
  agent.destroy()

  t.same(answers.map(a => a.status), Array(10).fill(201), 'every request in flight at SIGTERM was answered 201')
  t.ok(answers.every(a => a.headers.connection === 'close'), 'each told its client the connection ends')
  t.equal(exit.code, 0, 'the process exits 0')
  t.ok(Date.now() - signalledAt < 15_000, `it stopped in ${Date.now() - signalledAt} ms, without waiting for keep-alive timeouts`)
  const log = proc.output().stdout
  t.match(log, /"event":"shutdown","signal":"SIGTERM"/)
  t.match(log, /"event":"shutdown.complete"/, 'the store was flushed and closed before exit')
  t.notMatch(proc.output().stderr, /Error/)

  // The writes are there after a restart: what was acknowledged was durable when the process left.
  proc = start(env)
  await proc.ready()
  for (const a of answers) {
    const id = (JSON.parse(a.body) as { id: string }).id
    const res = await fetch(`${base}${items}/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(res.status, 200, `feature ${id} survived the shutdown`)
  }
  proc.child.kill('SIGINT')
  t.equal((await proc.exited).code, 0, 'SIGINT stops it gracefully too')
})
