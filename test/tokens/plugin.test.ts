// app.tokenState (src/tokens/plugin.ts): one backend chosen at start-up, or one the caller opened and shares.
import t from 'tap'
import { memoryBackend } from '../../src/tokens/backend.js'
import type { TokenStateBackend } from '../../src/tokens/state.js'
import { basic, build, decodePart, form, tokenFor } from '../helpers/app.js'

const ITEMS = '/features/collections/sites/items'

t.test('without a backend given, the app opens the memory backend', async t => {
  const { app, clients } = await build(t)
  t.equal(app.tokenState.kind, 'memory')
  const token = await tokenFor(app, clients.acme)
  const res = await app.inject({ method: 'POST', url: '/oauth/revoke', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: `token=${token}` })
  t.equal(res.statusCode, 200)
  t.equal(await app.tokenState.revoked.has(decodePart(token, 1).jti as string), true, 'the revocation is on its deny-list')
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
