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

  /**
   * A POST whose body is sent in two halves: `continued` once the server has taken the request in (Node answers
   * `Expect: 100-continue` just before it hands the request over), the second half when `finish` is called.
   */
  const slowPost = (name: string): { continued: Promise<void>, answer: Promise<Answer>, finish: (afterMs: number) => void } => {
    const body = JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [5, 45] }, properties: { name, kind: 'depot' } })
    let continued!: () => void
    let failed!: (err: Error) => void
    const taken = new Promise<void>((resolve, reject) => { continued = resolve; failed = reject })
    let req!: ReturnType<typeof httpRequest>
    const answer = new Promise<Answer>((resolve, reject) => {
      req = httpRequest({
        port: Number(env.PORT), host: '127.0.0.1', path: items, method: 'POST', agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/geo+json', 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' }
      }, res => {
        let text = ''
        res.on('data', (d: Buffer) => { text += String(d) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }) })
      })
      req.on('continue', continued)
      req.on('error', err => { reject(err); failed(err) })
      req.write(body.slice(0, 20))
    })
    return { continued: taken, answer, finish: afterMs => { setTimeout(() => { req.end(body.slice(20)) }, afterMs) } }
  }

  // Ten writes in flight (each taken in by the server before the signal, however slow the machine), the slowest
  // finishing its upload 1.5 s after the signal.
  const inFlight = Array.from({ length: 10 }, (_, i) => slowPost(`in-flight-${i}`))
  await Promise.all(inFlight.map(async p => await p.continued))
  const signalledAt = Date.now()
  proc.child.kill('SIGTERM')
  inFlight.forEach((p, i) => { p.finish(150 + i * 150) })
  const answers = await Promise.all(inFlight.map(async p => await p.answer))
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
