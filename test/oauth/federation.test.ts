// The jwt-bearer grant (RFC 7523) against a fake identity provider serving its own JWKS over real HTTP, then refresh.
import t, { type Test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { basic, build, decodePart, form, type Built } from '../helpers/app.js'
import { hs256 } from '../helpers/forge.js'
import { assertion, JWT_BEARER, startIdp, trustedFile } from '../helpers/idp.js'

const ISSUER = 'http://geotoken.test'
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`

async function setup (t: Test, extra: Record<string, unknown> = {}) {
  const idp = await startIdp(t)
  const built = await build(t, { TRUSTED_ISSUERS_FILE: trustedFile(idp, extra) })
  const fed = built.clients.acmeFederated
  const exchange = async (jwt: string, more = '', client = fed) => await built.app.inject({
    method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(client.id, client.secret) },
    payload: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${encodeURIComponent(jwt)}${more}`
  })
  const refresh = async (token: string, more = '', client = fed) => await built.app.inject({
    method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(client.id, client.secret) },
    payload: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}${more}`
  })
  return { ...built, idp, exchange, refresh }
}

t.test('an assertion from a trusted IdP (RS256 and ES256) is exchanged for an access token for the federated user', async t => {
  const { idp, exchange, app, clients } = await setup(t)
  for (const alg of ['RS256', 'ES256'] as const) {
    const res = await exchange(await assertion(idp, { alg }))
    t.equal(res.statusCode, 200, `${alg}: 200`)
    const body = res.json() as { access_token: string, refresh_token?: string, scope: string, token_type: string }
    const claims = decodePart(body.access_token, 1)
    t.equal(claims.sub, 'alice@acme.example', `${alg}: sub is the federated user`)
    t.equal(claims.org, 'acme', `${alg}: org from the issuer mapping`)
    t.equal(claims.client_id, clients.acmeFederated.id)
    t.equal(body.scope, 'features:read features:write')
    t.type(body.refresh_token, 'string', `${alg}: a refresh token comes with it`)
    const items = await app.inject({ url: '/features/collections/sites/items', headers: { authorization: `Bearer ${body.access_token}` } })
    t.equal(items.statusCode, 200, `${alg}: the token opens acme's features`)
  }
  t.equal(idp.jwksHits(), 1, 'the IdP key set was fetched once for both')
  const narrowed = await exchange(await assertion(idp), '&scope=features:read')
  t.equal(narrowed.json().scope, 'features:read', 'a narrower scope may be requested')
})

t.test('every bad assertion is refused with RFC 6749 invalid_grant and issues nothing', async t => {
  const { idp, exchange, logs } = await setup(t)
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const now = Math.floor(Date.now() / 1000)
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  const cases: Array<[string, string]> = [
    ['signed by a key the IdP does not publish, reusing its kid', await assertion(idp, { key: foreign })],
    ['an unknown kid', await assertion(idp, { kid: 'nope' })],
    ['expired', await assertion(idp, { claims: { exp: now - 120, iat: now - 300 } })],
    ['expiring too far in the future (not short-lived)', await assertion(idp, { expiresIn: 3600 })],
    ['issued in the future', await assertion(idp, { claims: { iat: now + 600 } })],
    ['without exp', await assertion(idp, { omit: ['exp'] })],
    ['without jti', await assertion(idp, { omit: ['jti'] })],
    ['without sub', await assertion(idp, { omit: ['sub'] })],
    ['for another audience', await assertion(idp, { claims: { aud: 'https://elsewhere.example' } })],
    ['from an untrusted issuer', await assertion(idp, { claims: { iss: 'https://evil.example' } })],
    ['not yet valid (nbf in the future)', await assertion(idp, { claims: { nbf: now + 600 } })],
    ['alg none', `${b64({ alg: 'none', kid: 'idp-rsa' })}.${b64({ iss: idp.issuer, sub: 'a', aud: TOKEN_ENDPOINT, exp: now + 60, jti: 'x' })}.`],
    ['an HS256 (symmetric) signature', hs256({ alg: 'HS256', kid: 'idp-rsa' }, { iss: idp.issuer, sub: 'a', aud: TOKEN_ENDPOINT, exp: now + 60, jti: 'y' }, 'secret')],
    ['a jku header', await assertion(idp, { header: { jku: `${idp.issuer}/jwks` } })],
    ['an RSA kid used with ES256', await assertion(idp, { alg: 'ES256', kid: 'idp-rsa' })],
    ['not a JWT', 'not.a.jwt']
  ]
  for (const [name, jwt] of cases) {
    const res = await exchange(jwt)
    t.equal(res.statusCode, 400, `${name}: 400`)
    t.equal(res.json().error, 'invalid_grant', `${name}: invalid_grant`)
    t.notOk('access_token' in res.json(), `${name}: no token`)
  }
  t.notOk(logs.some(l => l.includes(cases[0]?.[1] ?? '-')), 'assertions never reach the log')
  const missing = await exchange('')
  t.equal(missing.json().error, 'invalid_request', 'an empty assertion is invalid_request')
})

t.test('an assertion is exchanged once: a replayed jti is refused, also under concurrency', async t => {
  const { idp, exchange } = await setup(t)
  const jwt = await assertion(idp)
  t.equal((await exchange(jwt)).statusCode, 200)
  const replay = await exchange(jwt)
  t.equal(replay.statusCode, 400)
  t.match(replay.json(), { error: 'invalid_grant', error_description: /already been used/ })
  const racing = await assertion(idp)
  const answers = await Promise.all(Array.from({ length: 10 }, async () => (await exchange(racing)).statusCode))
  t.equal(answers.filter(s => s === 200).length, 1, 'exactly one of ten concurrent exchanges succeeds')
})

t.test('an IdP that cannot be reached and whose keys were never fetched answers 503 temporarily_unavailable', async t => {
  const { idp, exchange } = await setup(t)
  const jwt = await assertion(idp)
  idp.server.close()
  idp.server.closeAllConnections()
  const res = await exchange(jwt)
  t.equal(res.statusCode, 503)
  t.equal(res.json().error, 'temporarily_unavailable')
})

t.test('organization, scope and client limits apply', async t => {
  const { idp, exchange, clients } = await setup(t, { scopes: ['features:read'] })
  const res = await exchange(await assertion(idp))
  t.equal(res.json().scope, 'features:read', 'the issuer allowance caps the scope')
  const beyond = await exchange(await assertion(idp), '&scope=features:write')
  t.equal(beyond.json().error, 'invalid_scope')
  const cc = await exchange(await assertion(idp), '', clients.acme)
  t.equal(cc.statusCode, 400, 'a client not registered for jwt-bearer')
  t.equal(cc.json().error, 'unauthorized_client')
  const globex = await exchange(await assertion(idp), '', clients.globex)
  t.equal(globex.json().error, 'unauthorized_client')
})

t.test('an org taken from a claim must be allowed for the issuer and be the client\'s own', async t => {
  const { idp, exchange } = await setup(t, { org: { claim: 'tenant', allowed: ['acme', 'globex'] } })
  t.equal((await exchange(await assertion(idp, { claims: { tenant: 'acme' } }))).statusCode, 200)
  const other = await exchange(await assertion(idp, { claims: { tenant: 'globex' } }))
  t.match(other.json(), { error: 'invalid_grant', error_description: /another organization/ })
  const unlisted = await exchange(await assertion(idp, { claims: { tenant: 'initech' } }))
  t.match(unlisted.json(), { error: 'invalid_grant', error_description: /organization/ })
  const none = await exchange(await assertion(idp))
  t.equal(none.json().error, 'invalid_grant')
})

t.test('refresh tokens rotate on every use; reusing one revokes the whole family and its access tokens', async t => {
  const { idp, exchange, refresh, app, clients, logs } = await setup(t)
  const first = (await exchange(await assertion(idp))).json() as { access_token: string, refresh_token: string }
  const r1 = await refresh(first.refresh_token)
  t.equal(r1.statusCode, 200)
  const second = r1.json() as { access_token: string, refresh_token: string, scope: string }
  t.not(second.refresh_token, first.refresh_token, 'a new refresh token each time')
  t.equal(decodePart(second.access_token, 1).sub, 'alice@acme.example', 'same federated user')
  const narrowed = await refresh(second.refresh_token, '&scope=features:read')
  t.equal(narrowed.json().scope, 'features:read', 'the access token may be narrowed')
  const third = narrowed.json() as { access_token: string, refresh_token: string }
  const wider = await refresh(third.refresh_token)
  t.equal(wider.json().scope, 'features:read features:write', 'the refresh token kept the original scope (RFC 6749 §6)')
  const fourth = wider.json() as { access_token: string, refresh_token: string }

  const guarded = async (token: string) => (await app.inject({ url: '/features/collections/sites/items', headers: { authorization: `Bearer ${token}` } })).statusCode
  t.equal(await guarded(fourth.access_token), 200)
  const reuse = await refresh(first.refresh_token)
  t.match(reuse.json(), { error: 'invalid_grant', error_description: /already used/ })
  t.ok(logs.some(l => l.includes('"event":"token.refresh_reused"') && l.includes('"level":40')), 'the reuse is an audit warning')
  t.notOk(logs.some(l => l.includes(first.refresh_token)), 'refresh tokens never reach the log')
  t.equal((await refresh(fourth.refresh_token)).json().error, 'invalid_grant', 'the latest token of the family is revoked too')
  t.equal(await guarded(fourth.access_token), 401, 'access tokens minted from the family are refused')
  t.equal(await guarded(first.access_token), 401)

  const other = (await exchange(await assertion(idp))).json() as { refresh_token: string }
  const stolen = await refresh(other.refresh_token, '', clients.resourceServer)
  t.equal(stolen.statusCode, 400, 'a refresh token is bound to its client')
  t.equal((await refresh(other.refresh_token)).statusCode, 200, 'and was not spent by the other client')
  const cc = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: 'grant_type=client_credentials' })
  t.notOk('refresh_token' in cc.json(), 'client_credentials issues no refresh token (RFC 6749 §4.4.3)')
})

t.test('refresh tokens expire when idle and at the family deadline', async t => {
  let now = Date.now()
  const idp = await startIdp(t)
  const built = await build(t, { TRUSTED_ISSUERS_FILE: trustedFile(idp), REFRESH_TOKEN_IDLE_S: '600', REFRESH_TOKEN_ABSOLUTE_S: '1000' }, { clock: () => now })
  const fed = built.clients.acmeFederated
  const post = async (payload: string) => await built.app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(fed.id, fed.secret) }, payload })
  const grant = await post(`grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${await assertion(idp)}`)
  let token = (grant.json() as { refresh_token: string }).refresh_token
  now += 599_000
  const r1 = await post(`grant_type=refresh_token&refresh_token=${token}`)
  t.equal(r1.statusCode, 200, 'used just inside the idle window')
  token = (r1.json() as { refresh_token: string }).refresh_token
  now += 601_000
  const idle = await post(`grant_type=refresh_token&refresh_token=${token}`)
  t.match(idle.json(), { error: 'invalid_grant', error_description: /expired/ }, 'idle too long')

  const again = await post(`grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${await assertion(idp, { claims: { iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 60 } })}`)
  token = (again.json() as { refresh_token: string }).refresh_token
  for (let i = 0; i < 2; i++) {
    now += 450_000
    const r = await post(`grant_type=refresh_token&refresh_token=${token}`)
    t.equal(r.statusCode, 200, `rotation ${i + 1} within the absolute lifetime`)
    token = (r.json() as { refresh_token: string }).refresh_token
  }
  now += 150_000
  const absolute = await post(`grant_type=refresh_token&refresh_token=${token}`)
  t.match(absolute.json(), { error: 'invalid_grant', error_description: /expired/ }, 'past the family deadline, however recently used')
})

t.test('the trusted issuers file is validated at start-up', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-idp-'))
  const bad = async (name: string, content: string) => {
    const file = join(dir, `${name}.json`)
    writeFileSync(file, content)
    await t.rejects(build(t, { TRUSTED_ISSUERS_FILE: file }), { code: 'APP_TRUSTED_ISSUERS_INVALID' }, name)
  }
  await bad('not-json', '{')
  await bad('no-scopes', JSON.stringify({ issuers: [{ issuer: 'https://idp.example', jwks_uri: 'https://idp.example/jwks', org: { fixed: 'acme' }, scopes: [] }] }))
  await bad('claim-without-allow-list', JSON.stringify({ issuers: [{ issuer: 'https://idp.example', jwks_uri: 'https://idp.example/jwks', org: { claim: 'tenant' }, scopes: ['features:read'] }] }))
  await bad('unknown-member', JSON.stringify({ issuers: [{ issuer: 'https://idp.example', jwks_uri: 'https://idp.example/jwks', org: { fixed: 'acme' }, scopes: ['features:read'], trust_everyone: true }] }))
})

t.test('discovery lists the grants actually enabled', async t => {
  const plain = await build(t)
  const meta = (await plain.app.inject({ url: '/.well-known/oauth-authorization-server' })).json() as { grant_types_supported: string[], revocation_endpoint: string, introspection_endpoint: string }
  t.notOk(meta.grant_types_supported.includes(JWT_BEARER), 'no trusted issuers: no jwt-bearer')
  t.equal(meta.revocation_endpoint, `${ISSUER}/oauth/revoke`)
  t.equal(meta.introspection_endpoint, `${ISSUER}/oauth/introspect`)
  const { app } = await setup(t) as Built
  const fed = (await app.inject({ url: '/.well-known/oauth-authorization-server' })).json() as { grant_types_supported: string[] }
  t.ok(fed.grant_types_supported.includes(JWT_BEARER))
})
