// Issue 16: the embedded feature store has one writer. A second geotoken on the same DATA_DIR refuses to start,
// saying why and what to do, and leaves the first one serving; a killed holder blocks nobody.
import t from 'tap'
import { processFixture, startServer } from '../helpers/process.js'
import { freePort, tokenOverHttp } from '../helpers/net.js'

t.test('a second process on one DATA_DIR exits 1 with APP_FEATURES_LOCKED naming the holder; after a kill -9 of the first, it starts', async t => {
  const { client, base, env } = await processFixture(t, { LOG_LEVEL: 'warn' })
  const first = startServer(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  await first.ready()

  const otherPort = String(await freePort())
  const second = startServer({ ...env, PORT: otherPort })
  t.teardown(() => { second.child.kill('SIGKILL') })
  const exit = await second.exited
  t.equal(exit.code, 1, 'the second process exits 1')
  const { stderr } = second.output()
  t.match(stderr, /^geotoken: failed to start: APP_FEATURES_LOCKED /m, 'with the code first')
  t.match(stderr, new RegExp(`in use by another process \\(pid ${first.child.pid ?? 0} on `), 'naming the holder')
  t.match(stderr, /two geotoken processes cannot share one DATA_DIR/, 'saying why')
  t.match(stderr, /Stop the other process, or give this one a DATA_DIR of its own/, 'and what to do')

  const token = await tokenOverHttp(base, client)
  const res = await fetch(`${base}/features/collections/sites/items`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/geo+json' },
    body: JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [1, 2] }, properties: { name: 'after' } })
  })
  t.equal(res.status, 201, 'the first process still writes')

  first.child.kill('SIGKILL')
  await first.exited
  const third = startServer({ ...env, PORT: otherPort })
  t.teardown(() => { third.child.kill('SIGKILL') })
  await third.ready()
  t.pass('a process killed with the lock held leaves no lock behind: the next one starts')
  third.child.kill('SIGTERM')
  t.equal((await third.exited).code, 0, 'and stops cleanly, releasing it')
})
