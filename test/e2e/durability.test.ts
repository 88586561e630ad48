// Crash durability of the real process: every 201 answered before a SIGKILL is there, unchanged, after a restart.
import t from 'tap'
import { processFixture, startServer as start } from '../helpers/process.js'
import { tokenOverHttp } from '../helpers/net.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Acked { id: string, coordinates: [number, number], name: string, cycle: number }

t.test('acknowledged feature writes survive SIGKILL and restart, three times over', async t => {
  const started = Date.now()
  const { client, base, env } = await processFixture(t, { LOG_LEVEL: 'warn' })
  let proc = start(env)
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await proc.ready()

  const token = await tokenOverHttp(base, client) // throws unless the answer is 200
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a token over HTTP')
  const auth = { authorization: `Bearer ${token}` }
  const items = `${base}/features/collections/sites/items`

  const acked: Acked[] = []
  let serial = 0
  const verify = async (cycle: number): Promise<void> => {
    const bad: string[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < acked.length) {
        const a = acked[next++] as Acked
        const res = await fetch(`${items}/${encodeURIComponent(a.id)}`, { headers: auth })
        const body = await res.json() as { id?: string, geometry?: { type: string, coordinates: number[] }, properties?: Record<string, unknown> }
        if (res.status !== 200) { bad.push(`${a.id} (cycle ${a.cycle}): ${res.status}`); continue }
        if (body.id !== a.id || body.geometry?.type !== 'Point' || JSON.stringify(body.geometry.coordinates) !== JSON.stringify(a.coordinates) ||
          body.properties?.name !== a.name || body.properties?.org !== 'acme') {
          bad.push(`${a.id}: got ${JSON.stringify(body).slice(0, 200)}`)
        }
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    t.strictSame(bad, [], `after restart ${cycle}: all ${acked.length} acknowledged writes answer 200 with the same geometry`)
    const list = await fetch(`${items}?limit=1`, { headers: auth })
    const matched = (await list.json() as { numberMatched: number }).numberMatched
    t.ok(matched >= acked.length + 3, `the collection holds ${matched} features: the 3 seeded and at least every acknowledged one`)
  }

  for (let cycle = 1; cycle <= 3; cycle++) {
    let stop = false
    let refused = 0
    let otherStatus = 0
    const sender = async (): Promise<void> => {
      while (!stop) {
        const n = serial++
        const coordinates: [number, number] = [Math.round((Math.random() * 360 - 180) * 1e6) / 1e6, Math.round((Math.random() * 180 - 90) * 1e6) / 1e6]
        const name = `c${cycle}-w${n}`
        try {
          const res = await fetch(items, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/geo+json' },
            body: JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates }, properties: { name, kind: 'depot' } })
          })
          await res.arrayBuffer()
          if (res.status === 201) {
            const location = res.headers.get('location') ?? ''
            const id = decodeURIComponent(location.split('/').at(-1) ?? '')
            if (!location.startsWith(`${items}/`) || id === '') throw new Error(`bad Location ${location}`)
            acked.push({ id, coordinates, name, cycle })
          } else {
            otherStatus++
          }
        } catch (err) {
          if ((err as Error).message.startsWith('bad Location')) throw err
          refused++ // the connection died with the process: not acknowledged
          if (!stop) await sleep(5)
        }
      }
    }
    const before = acked.length
    const senders = Array.from({ length: 8 }, sender)
    await sleep(300 + Math.random() * 600)
    proc.child.kill('SIGKILL')
    const exit = await proc.exited
    stop = true
    await Promise.all(senders)
    t.equal(exit.signal, 'SIGKILL', `cycle ${cycle}: the server was killed mid-stream`)
    t.equal(otherStatus, 0, 'no write was refused while the server was up')
    t.ok(acked.length - before > 0, `cycle ${cycle}: ${acked.length - before} writes acknowledged before the kill (${refused} cut off)`)

    proc = start(env)
    await proc.ready()
    t.notMatch(proc.output().stderr, /APP_FEATURES_CORRUPT/, 'the store opens after the crash')
    await verify(cycle)
  }

  proc.child.kill('SIGTERM')
  t.equal((await proc.exited).code, 0, 'a graceful stop at the end')
  t.ok(new Set(acked.map(a => a.id)).size === acked.length, `${acked.length} distinct acknowledged ids in total`)
  t.comment(`${acked.length} acknowledged writes verified across 3 kill/restart cycles in ${Date.now() - started} ms`)
})
