// The audit trail: one line per security event, with ids and reasons, and never a token, secret or private key.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { basic, build, form, tokenFor } from '../helpers/app.js'
import { newRingKey } from '../../src/keys/generate.js'
import { emergency, rotate } from '../../src/keys/rotation.js'
import { saveRing } from '../../src/keys/store.js'

const post = async (app: FastifyInstance, headers: Record<string, string>, payload: string) =>
  await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...headers }, payload })

t.test('issue, refuse, failed authentication, guard refusal and key changes are audited without credentials', async t => {
  const { app, clients, logs, keysDir } = await build(t)
  const { acme, globex } = clients

  // Issued: Basic and client_secret_post.
  const tokens = [await tokenFor(app, acme), await tokenFor(app, globex, 'features:read')]
  const posted = await post(app, {}, `grant_type=client_credentials&client_id=${acme.id}&client_secret=${encodeURIComponent(acme.secret)}`)
  t.equal(posted.statusCode, 200)
  tokens.push((posted.json() as { access_token: string }).access_token)
  // Refused at the token endpoint.
  t.equal((await post(app, basic(acme.id, acme.secret), 'grant_type=password')).statusCode, 400)
  t.equal((await post(app, basic(acme.id, acme.secret), 'grant_type=client_credentials&scope=admin')).statusCode, 400)
  // Client authentication failed: a wrong secret, an unknown client, a secret in the body that is wrong.
  const wrongSecret = `${acme.secret.slice(0, -2)}xx`
  t.equal((await post(app, basic(acme.id, wrongSecret), 'grant_type=client_credentials')).statusCode, 401)
  t.equal((await post(app, basic('nobody', globex.secret), 'grant_type=client_credentials')).statusCode, 401)
  t.equal((await post(app, {}, `grant_type=client_credentials&client_id=${globex.id}&client_secret=${wrongSecret}`)).statusCode, 401)
  // Access tokens at the guard: a good one, a tampered one, one in a query string.
  const token = tokens[0] as string
  t.equal((await app.inject({ url: '/features/collections', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/features/collections', headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } })).statusCode, 401)
  t.equal((await app.inject({ url: `/features/collections?access_token=${token}` })).statusCode, 401)

  // Key changes: a rotation, then an emergency removal of the new current key.
  const ring = app.keys.view.ring
  const rotated = rotate(ring, await newRingKey(2048, Date.now()), Date.now(), { minPublishMs: 0, retentionMs: 3600_000 }, true)
  if ('refused' in rotated) throw new Error(rotated.refused)
  await saveRing(keysDir, rotated.ring)
  t.ok(await app.keys.reload(), 'the rotation is picked up')
  const compromised = app.keys.view.signing.kid
  const removed = emergency(rotated.ring, compromised, await newRingKey(2048, Date.now()), Date.now())
  if (removed === undefined) throw new Error('no such kid')
  await saveRing(keysDir, removed)
  t.ok(await app.keys.reload(), 'the emergency removal is picked up')

  const text = logs.join('')
  const lines = text.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>)
  const events = (name: string) => lines.filter(l => l.event === name)

  t.equal(events('token.issued').length, 3, 'one token.issued line per token')
  t.match(events('token.issued')[0], { audit: true, client_id: acme.id, org: 'acme', kid: ring.keys.find(k => k.state === 'current')?.kid, grant_type: 'client_credentials', reqId: /\S/ })
  t.same(events('token.refused').filter(l => l.reason === 'unsupported_grant_type' || l.reason === 'invalid_scope').map(l => l.client_id), [acme.id, acme.id],
    'the token endpoint refusals name the client')
  const failed = events('client.auth_failed')
  t.same(failed.map(l => l.client_id), [acme.id, 'nobody', globex.id], 'each failed authentication names the presented client id')
  t.ok(failed.every(l => l.reason === 'invalid_client' && typeof l.reqId === 'string'))
  const refusedAtGuard = events('token.refused').filter(l => l.error_description !== undefined)
  t.same(refusedAtGuard.map(l => l.reason), ['bad_signature'], 'the guard refusal carries its reason (the query-string token is not even read)')
  t.match(events('keys.rotated')[0], { audit: true, kid: compromised, previous_kid: ring.keys.find(k => k.state === 'current')?.kid })
  t.match(events('keys.emergency'), [{ audit: true, level: 40, kid: compromised, reason: 'current_key_removed' }])
  t.equal(events('keys.rotated').length, 2, 'the emergency removal also changed the signing key')

  // Never a credential, whatever the event.
  for (const secret of [acme.secret, globex.secret, wrongSecret]) t.notOk(text.includes(secret), 'no client secret in the log')
  for (const issued of tokens) {
    t.notOk(text.includes(issued), 'no access token in the log')
    t.notOk(text.includes(issued.split('.')[2] as string), 'not even its signature')
  }
  t.notOk(text.includes('"d":'), 'no private JWK member')
  t.notOk(/PRIVATE KEY/.test(text), 'no PEM private key')
  t.notOk(/"authorization"|Basic [A-Za-z0-9+/=]{8}|Bearer ey/i.test(text), 'no Authorization header')
})
