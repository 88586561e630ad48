// app.tokenState (src/tokens/plugin.ts): one backend chosen at start-up, or one the caller opened and shares.
import t from 'tap'
import { memoryBackend } from '../../src/tokens/backend.js'
import type { TokenStateBackend } from '../../src/tokens/state.js'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { basic, build, decodePart, form, tokenFor } from '../helpers/app.js'

const ITEMS = '/features/collections/sites/items'

t.test('without a backend given, the app opens the one STATE_STORE names: embedded (SQLite in DATA_DIR) by default', async t => {
  const { app, clients, dataDir } = await build(t)
  t.equal(app.tokenState.kind, 'sqlite')
  t.ok(existsSync(join(dataDir, 'token-state.sqlite')), 'its file is in DATA_DIR')
  const token = await tokenFor(app, clients.acme)
  const res = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: `token=${token}` })
  t.equal(res.statusCode, 200)
  t.equal(await app.tokenState.revoked.has(decodePart(token, 1).jti as string), true, 'the revocation is on its deny-list')
})

t.test('STATE_STORE=memory opens the memory backend and writes no file', async t => {
  const { app, clients, dataDir } = await build(t, { STATE_STORE: 'memory' })
  t.equal(app.tokenState.kind, 'memory')
  const token = await tokenFor(app, clients.acme)
  const res = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: `token=${token}` })
  t.equal(res.statusCode, 200)
  t.equal(await app.tokenState.revoked.has(decodePart(token, 1).jti as string), true)
  t.notOk(existsSync(join(dataDir, 'token-state.sqlite')), 'nothing on disk')
})

t.test('a revocation the store cannot commit (another process holds it past the busy timeout) answers 503 with Retry-After, never 200', async t => {
  // better-sqlite3 waits out the busy timeout on the event loop: the overload check would then (rightly) answer the
  // next guarded request 503, which is not what this test is about.
  const { app, clients, dataDir, logs } = await build(t, { OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  const token = await tokenFor(app, clients.acme)
  const revoke = async () => await app.inject({ method: 'POST', url: '/oauth/revoke', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: `token=${token}` })
  const items = async (): Promise<number> => (await app.inject({ url: ITEMS, headers: { authorization: `Bearer ${token}` } })).statusCode
  // An admin command in another process, stuck inside its write transaction.
  const other = new Database(join(dataDir, 'token-state.sqlite'))
  t.teardown(() => { other.close() })
  other.exec('BEGIN IMMEDIATE')
  const started = Date.now()
  const refused = await revoke()
  t.equal(refused.statusCode, 503, `refused after ${Date.now() - started} ms of waiting`)
  t.equal(refused.headers['retry-after'], '5')
  t.match(refused.json(), { error: 'temporarily_unavailable' })
  t.equal(await items(), 200, 'nothing was revoked, and nothing claims it was')
  other.exec('ROLLBACK')
  t.equal((await revoke()).statusCode, 200, 'once the other process lets go, the same request succeeds')
  t.equal(await items(), 401)
  t.match(logs.join(''), /"event":"token_state.unavailable"/, 'the failure is logged for the operator')
})

t.test('two instances given one backend share it: a revocation on one is refused by the other; closing is the caller\'s', async t => {
  let closed = 0
  const shared: TokenStateBackend = { ...memoryBackend(), close: async () => { closed++ } }
  const one = await build(t, {}, { tokenState: shared })
  const two = await build(t, {}, { tokenState: shared })
  const token = await tokenFor(one.app, one.clients.acme)
  const items = async (): Promise<number> => (await two.app.inject({ url: ITEMS, headers: { authorization: `Bearer ${token}` } })).statusCode
  t.equal(await items(), 200, 'the token works on the other instance (same keys and issuer)')
  const res = await one.app.inject({ method: 'POST', url: '/oauth/revoke', headers: { ...form, ...basic(one.clients.acme.id, one.clients.acme.secret) }, payload: `token=${token}` })
  t.equal(res.statusCode, 200)
  t.equal(await items(), 401, 'revoked through one instance, refused by the other')
  await one.app.close()
  await two.app.close()
  t.equal(closed, 0, 'an instance does not close a backend it was given')
})
