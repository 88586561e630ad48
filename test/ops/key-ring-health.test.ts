// A bad keyring.json under a running service (issue 13): one log line per distinct failure and one on recovery,
// a metric, and /ready's keys check, while the last good ring keeps signing.
import t from 'tap'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { build, testRing, tokenFor } from '../helpers/app.js'
import { serializeRing } from '../../src/keys/keyring.js'
import { RING_FILE } from '../../src/keys/store.js'
import { writeFileAtomic } from '../../src/shared/atomic-file.js'

const METRICS_TOKEN = 'metrics-token-0123456789abcdef'
const POLL_MS = 100
const polls = async (n: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, n * POLL_MS)) }
/** Waits (up to 10 s: polls run late on a loaded machine) until `what` holds; whether it did. */
async function until (what: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 10_000
  while (!(await what())) {
    if (Date.now() > deadline) return false
    await polls(1)
  }
  return true
}

const events = (logs: string[], event: string): number =>
  logs.flatMap(chunk => chunk.split('\n')).filter(line => line !== '' && (JSON.parse(line) as { event?: string }).event === event).length

async function gauge (app: FastifyInstance, name: string): Promise<number | undefined> {
  const res = await app.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  const line = res.body.split('\n').find(l => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.split(' ')[1])
}

t.test('a corrupt key ring is logged once per distinct failure and once on recovery, metered, and shown by /ready', async t => {
  const { app, logs, keysDir, clients } = await build(t, { METRICS_TOKEN, RELOAD_INTERVAL_MS: String(POLL_MS) })
  const path = join(keysDir, RING_FILE)
  // Each bad or good version is renamed into place: an in-place write could be read half-done, a failure of its own.
  t.equal(await gauge(app, 'geotoken_key_ring_healthy'), 1)
  t.equal(await gauge(app, 'geotoken_key_ring_reload_failures_total'), 0)

  await writeFileAtomic(path, '{"version":1,"keys":[')
  const failures = async (): Promise<number> => await gauge(app, 'geotoken_key_ring_reload_failures_total') ?? 0
  t.ok(await until(async () => await failures() >= 10), 'the failure counter grows with every poll')
  t.equal(events(logs, 'keys.reload_failed'), 1, 'ten polls of one bad file: one error line')
  t.equal(await gauge(app, 'geotoken_key_ring_healthy'), 0)
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.match(ready.headers['content-type'], /^application\/problem\+json/)
  t.match(ready.json().checks, { keys: /^keyring\.json unusable \(APP_KEYS_CORRUPT\) since \d{4}-.*: serving the last good ring$/, clients: 'ok', features: 'ok' })
  t.ok(await tokenFor(app, clients.acme), 'tokens are still issued with the last good ring')

  const before = await failures()
  await writeFileAtomic(path, 'not json at all')
  t.ok(await until(async () => await failures() >= before + 5), 'five more polls failed')
  t.equal(events(logs, 'keys.reload_failed'), 2, 'a different failure: one more line')

  await writeFileAtomic(path, serializeRing(await testRing()))
  t.ok(await until(async () => await gauge(app, 'geotoken_key_ring_healthy') === 1), 'the good ring is read again')
  await polls(5)
  t.equal(events(logs, 'keys.reload_recovered'), 1, 'one recovery line')
  t.equal(events(logs, 'keys.reload_failed'), 2, 'and no more errors')
  t.equal(await gauge(app, 'geotoken_key_ring_healthy'), 1)
  const recovered = await app.inject({ url: '/ready' })
  t.equal(recovered.statusCode, 200)
  t.same(recovered.json(), { status: 'ready', checks: { keys: 'ok', clients: 'ok', features: 'ok' } })
})
