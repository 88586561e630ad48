// The remote verifier plugin against the real issuer over HTTP: discovery, key-set caching, rotation, outages.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { createServer, type Socket } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import geotokenVerifier, { type RemoteVerifierOptions } from '../../src/verifier/remote.js'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import { basic, decodePart, form, testRing, type Built } from '../helpers/app.js'
import { listenIssuer, tokenOverHttp } from '../helpers/net.js'
import { rs256 } from '../helpers/forge.js'

type Issuer = Built & { base: string }

async function issue (issuer: Issuer): Promise<string> {
  return await tokenOverHttp(issuer.base, issuer.clients.acme)
}

/** Requests the issuer served for `url`, read from its request log. */
function hits (issuer: Issuer, url: string): number {
  return issuer.logs.filter(l => l.includes('"request completed"') && l.includes(`"url":"${url}"`)).length
}

interface Consumer { app: FastifyInstance, get: (token: string) => Promise<{ status: number, body: Record<string, unknown>, headers: Headers | Record<string, unknown> }>, advance: (s: number) => void }

async function consumer (t: Pick<Test, 'teardown'>, issuer: string, options: Partial<RemoteVerifierOptions> = {}): Promise<Consumer> {
  let offsetMs = 0
  const app = Fastify()
  await app.register(geotokenVerifier, { issuer, audience: `${issuer}/features`, clock: () => Date.now() + offsetMs, ...options })
  app.get('/orders', { onRequest: [app.authenticate], preHandler: [app.requireScope('features:read')] }, async request => ({ org: request.user.org }))
  t.teardown(() => app.close())
  return {
    app,
    get: async (token: string) => {
      const res = await app.inject({ url: '/orders', headers: { authorization: `Bearer ${token}` } })
      return { status: res.statusCode, body: res.json(), headers: res.headers }
    },
    advance: (s: number) => { offsetMs += s * 1000 }
  }
}

const io = { out () {}, err () {}, now: Date.now }

t.test('a consumer discovers the issuer, verifies its tokens, and fetches the key set once for many requests', async t => {
  const issuer = await listenIssuer(t)
  const c = await consumer(t, issuer.base)
  await c.app.listen({ host: '127.0.0.1', port: 0 })
  const orders = `http://127.0.0.1:${(c.app.server.address() as { port: number }).port}/orders`
  const token = await issue(issuer)
  const results = await Promise.all(Array.from({ length: 40 }, async () => {
    const res = await fetch(orders, { headers: { authorization: `Bearer ${token}` } })
    return { status: res.status, body: await res.json() as Record<string, unknown> }
  }))
  t.ok(results.every(r => r.status === 200 && r.body.org === 'acme'), '40 concurrent requests to the listening consumer verified')
  t.equal(hits(issuer, '/.well-known/oauth-authorization-server'), 1, 'metadata fetched once')
  t.equal(hits(issuer, '/.well-known/jwks.json'), 1, 'the key set fetched once, shared by concurrent requests')
  const reader = await c.app.inject({ url: '/orders', headers: { authorization: 'Bearer' } })
  t.equal(reader.statusCode, 401)
})

t.test('unknown kids cause at most one refetch per cooldown, shared by concurrent requests', async t => {
  const issuer = await listenIssuer(t)
  const c = await consumer(t, issuer.base, { jwks: { kidMissCooldownMs: 60_000 } })
  t.equal((await c.get(await issue(issuer))).status, 200, 'key set cached by a first good token')
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const now = Math.floor(Date.now() / 1000)
  const claims = { iss: issuer.base, sub: 'x', aud: `${issuer.base}/features`, client_id: 'x', org: 'globex', scope: 'features:read', iat: now, exp: now + 60, jti: 'j' }
  const forged = Array.from({ length: 30 }, (_, i) => rs256({ alg: 'RS256', typ: 'at+jwt', kid: `attacker-${i}` }, claims, privateKey))
  const answers = await Promise.all(forged.map(async f => await c.get(f)))
  t.ok(answers.every(a => a.status === 401 && a.body.error === 'invalid_token'), 'every forged kid is refused with invalid_token')
  for (const f of forged.slice(0, 10)) t.equal((await c.get(f)).status, 401)
  t.equal(hits(issuer, '/.well-known/jwks.json'), 2, 'one fetch for the first token, one refetch for 40 unknown-kid tokens')
})

t.test('rotation is invisible: tokens from a freshly promoted key verify on the first try', async t => {
  const issuer = await listenIssuer(t, { RELOAD_INTERVAL_MS: '100', JWKS_MAX_AGE_S: '0', CLOCK_TOLERANCE_S: '0' })
  const c = await consumer(t, issuer.base, { jwks: { kidMissCooldownMs: 0 } })
  const first = await issue(issuer)
  t.equal((await c.get(first)).status, 200)
  const env = { KEYS_DIR: issuer.keysDir, JWKS_MAX_AGE_S: '0', CLOCK_TOLERANCE_S: '0', RELOAD_INTERVAL_MS: '100' }
  const kids = new Set([decodePart(first, 0).kid])
  for (let round = 1; round <= 2; round++) {
    // A next key may be promoted once published for 2 × RELOAD_INTERVAL_MS (200 ms here): with fast key generation
    // the second rotation could otherwise come sooner and be refused.
    if (round > 1) await new Promise(resolve => setTimeout(resolve, 250))
    t.equal(await rotateKeys([], env, io), 0, `rotation ${round}`)
    let token = await issue(issuer)
    for (let i = 0; i < 50 && kids.has(decodePart(token, 0).kid); i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      token = await issue(issuer)
    }
    t.notOk(kids.has(decodePart(token, 0).kid), `round ${round}: the issuer signs with a new key`)
    kids.add(decodePart(token, 0).kid)
    t.equal((await c.get(token)).status, 200, `round ${round}: the new key's token verifies on the first try`)
    t.equal((await c.get(first)).status, 200, `round ${round}: the first token still verifies (its key is retired, not gone)`)
  }
})

t.test('a key removed by an emergency rotation stops verifying once the consumer cache expires', async t => {
  const issuer = await listenIssuer(t, { RELOAD_INTERVAL_MS: '100', JWKS_MAX_AGE_S: '120' })
  const c = await consumer(t, issuer.base, { jwks: { minCacheS: 10, maxCacheS: 600 } })
  const token = await issue(issuer)
  t.equal((await c.get(token)).status, 200)
  const kid = decodePart(token, 0).kid as string
  t.equal(await rotateKeys(['--emergency', kid], { KEYS_DIR: issuer.keysDir, JWKS_MAX_AGE_S: '120' }, io), 0, 'emergency rotation')
  for (let i = 0; i < 50; i++) {
    const jwks = await (await fetch(`${issuer.base}/.well-known/jwks.json`)).json() as { keys: Array<{ kid: string }> }
    if (!jwks.keys.some(k => k.kid === kid)) break
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  t.equal((await c.get(token)).status, 200, 'still accepted while the cached set is fresh (the documented bound: the JWKS max-age)')
  c.advance(100)
  t.equal((await c.get(token)).status, 200, 'still inside max-age=120')
  c.advance(25)
  const after = await c.get(token)
  t.equal(after.status, 401, 'refused once the cache has expired and the set is refetched')
  t.equal(after.body.error, 'invalid_token')
  t.equal((await c.get(await issue(issuer))).status, 200, 'tokens from the replacement key verify')
})

t.test('Cache-Control max-age is honoured within bounds, and revalidation uses the ETag', async t => {
  const issuer = await listenIssuer(t, { JWKS_MAX_AGE_S: '120' })
  const c = await consumer(t, issuer.base, { jwks: { minCacheS: 10, maxCacheS: 3600 } })
  const token = await issue(issuer)
  await c.get(token)
  c.advance(100)
  await c.get(token)
  t.equal(hits(issuer, '/.well-known/jwks.json'), 1, 'no refetch inside max-age')
  c.advance(21)
  t.equal((await c.get(token)).status, 200)
  t.equal(hits(issuer, '/.well-known/jwks.json'), 2, 'one refetch after max-age')
  t.ok(issuer.logs.some(l => l.includes('"statusCode":304')), 'the refetch was a conditional request answered 304')

  const capped = await consumer(t, issuer.base, { jwks: { minCacheS: 10, maxCacheS: 30 } })
  await capped.get(token)
  const before = hits(issuer, '/.well-known/jwks.json')
  capped.advance(31)
  await capped.get(token)
  t.equal(hits(issuer, '/.well-known/jwks.json'), before + 1, 'maxCacheS caps a long max-age')
})

t.test('the issuer being down does not break verification with cached keys (stale-if-error), within a bound', async t => {
  const issuer = await listenIssuer(t, { JWKS_MAX_AGE_S: '60' })
  const c = await consumer(t, issuer.base, { jwks: { minCacheS: 10, maxCacheS: 60, staleIfErrorS: 600, timeoutMs: 500 } })
  const token = await issue(issuer)
  t.equal((await c.get(token)).status, 200)
  await issuer.app.close()
  c.advance(61)
  t.equal((await c.get(token)).status, 200, 'verified with the stale set while the issuer is down')
  c.advance(600)
  const res = await c.get(token)
  t.equal(res.status, 503, 'past the stale bound: 503, not a false 401')
  t.equal(res.body.status, 503)
})

t.test('fetches have a real timeout: an issuer that never answers fails fast with 503', async t => {
  const sockets = new Set<Socket>()
  const hole = createServer(socket => { sockets.add(socket) }).listen(0, '127.0.0.1')
  await new Promise(resolve => hole.once('listening', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); hole.close() })
  const base = `http://127.0.0.1:${(hole.address() as { port: number }).port}`
  const c = await consumer(t, base, { jwks: { timeoutMs: 300 } })
  const ring = await testRing()
  const now = Math.floor(Date.now() / 1000)
  const key = ring.keys[0]
  if (key === undefined) throw new Error('no key')
  const token = rs256({ alg: 'RS256', typ: 'at+jwt', kid: key.kid }, { iss: base, sub: 's', aud: `${base}/features`, client_id: 's', org: 'acme', scope: 'features:read', iat: now, exp: now + 60, jti: 'j' }, key.privateKey)
  const started = Date.now()
  const res = await c.get(token)
  const took = Date.now() - started
  t.equal(res.status, 503)
  t.ok(took < 2000, `answered in ${took} ms`)
  const again = Date.now()
  t.equal((await c.get(token)).status, 503)
  t.ok(Date.now() - again < 100, 'a failed issuer is not retried on every request')
})

t.test('the same strict rules as the in-process guard: typ, iss, aud, lifetime, alg', async t => {
  const issuer = await listenIssuer(t)
  const c = await consumer(t, issuer.base, { maxLifetimeS: 900 })
  t.equal((await c.get(await issue(issuer))).status, 200)
  const ring = await testRing()
  const current = ring.keys.find(k => k.state === 'current')
  if (current === undefined) throw new Error('no current key')
  const now = Math.floor(Date.now() / 1000)
  const good = { iss: issuer.base, sub: 's', aud: `${issuer.base}/features`, client_id: 's', org: 'acme', scope: 'features:read', iat: now, exp: now + 60, jti: 'j' }
  const header = { alg: 'RS256', typ: 'at+jwt', kid: current.kid }
  t.equal((await c.get(rs256(header, good, current.privateKey))).status, 200, 'a well-formed token signed by the published key passes')
  const cases: Array<[string, string]> = [
    ['typ JWT (which @fastify/jwt alone turns into a 500)', rs256({ ...header, typ: 'JWT' }, good, current.privateKey)],
    ['another issuer', rs256(header, { ...good, iss: 'http://evil.test' }, current.privateKey)],
    ['another audience', rs256(header, { ...good, aud: 'http://other.test' }, current.privateKey)],
    ['expired', rs256(header, { ...good, iat: now - 600, exp: now - 300 }, current.privateKey)],
    ['a lifetime longer than the issuer grants', rs256(header, { ...good, exp: now + 7200 }, current.privateKey)],
    ['no org claim', rs256(header, { ...good, org: undefined }, current.privateKey)],
    ['an org that is not an organization name (issue 13)', rs256(header, { ...good, org: 'Acme Corp' }, current.privateKey)],
    ['a scope the issuer does not know (issue 13)', rs256(header, { ...good, scope: 'features:read features:admin' }, current.privateKey)],
    ['an empty scope (issue 13)', rs256(header, { ...good, scope: '' }, current.privateKey)],
    ['alg none', `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`]
  ]
  for (const [name, token] of cases) {
    const res = await c.get(token)
    t.equal(res.status, 401, `${name}: 401`)
    t.equal(res.body.error, 'invalid_token', `${name}: invalid_token`)
    t.match(String((res.headers as Record<string, unknown>)['www-authenticate']), /^Bearer realm="geotoken", error="invalid_token"/, `${name}: RFC 6750 challenge`)
  }
  const noScope = await c.get(await tokenOverHttp(issuer.base, issuer.clients.acme, 'features:write'))
  t.equal(noScope.status, 403, 'a token without the route scope: 403 insufficient_scope')
})

t.test('options are checked when the plugin is registered', async t => {
  const attempts: Array<[string, Partial<RemoteVerifierOptions>]> = [
    ['no issuer', { issuer: undefined as unknown as string }],
    ['issuer not a URL', { issuer: 'auth.example.com' }],
    ['issuer with a trailing slash', { issuer: 'https://auth.example.com/' }],
    ['empty audience', { audience: '' }],
    ['negative tolerance', { clockToleranceS: -1 }],
    ['introspection without a secret', { introspection: { clientId: 'a', clientSecret: '' } }],
    ['a negative introspection cache time', { introspection: { clientId: 'a', clientSecret: 'b', cacheS: -1 } }],
    ['an introspection cache time that is not whole seconds', { introspection: { clientId: 'a', clientSecret: 'b', cacheS: 0.5 } }]
  ]
  for (const [name, bad] of attempts) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(geotokenVerifier, { issuer: 'https://auth.example.com', audience: 'https://api.example.com', ...bad }); await app.ready() },
      { code: 'APP_VERIFIER_OPTIONS' }, name)
    await app.close()
  }
})

t.test('requireActive asks the issuer (RFC 7662), so a revocation takes effect at once on the routes that need it', async t => {
  const issuer = await listenIssuer(t)
  const rs = issuer.clients.resourceServer
  const app = Fastify()
  await app.register(geotokenVerifier, { issuer: issuer.base, audience: `${issuer.base}/features`, introspection: { clientId: rs.id, clientSecret: rs.secret } })
  app.get('/cheap', { onRequest: [app.authenticate] }, async () => ({ ok: true }))
  app.get('/payments', { onRequest: [app.authenticate], preHandler: [app.requireActive] }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  const token = await issue(issuer)
  const get = async (url: string) => (await app.inject({ url, headers: { authorization: `Bearer ${token}` } })).statusCode
  t.equal(await get('/payments'), 200)
  const revoked = await fetch(`${issuer.base}/oauth/revoke`, { method: 'POST', headers: { ...form, ...basic(issuer.clients.acme.id, issuer.clients.acme.secret) }, body: `token=${token}` })
  t.equal(revoked.status, 200)
  t.equal(await get('/payments'), 401, 'refused at once where introspection is asked for')
  t.equal(await get('/cheap'), 200, 'a JWKS-only route accepts it until it expires (the documented trade-off)')
  await issuer.app.close()
  t.equal(await get('/payments'), 503, 'fails closed when the issuer cannot be asked')

  const noCreds = Fastify()
  t.teardown(() => noCreds.close())
  await noCreds.register(geotokenVerifier, { issuer: issuer.base, audience: `${issuer.base}/features` })
  t.throws(() => noCreds.get('/x', { onRequest: [noCreds.authenticate], preHandler: [noCreds.requireActive] }, async () => ({})),
    { code: 'APP_VERIFIER_OPTIONS' }, 'a route using requireActive without introspection credentials is refused when declared')
})

// Issue 13: requireActive must not be throttled or locked out by the resource server's own traffic or by others.
t.test('requireActive answers 70 requests a minute, and wrong secrets naming its client from elsewhere do not stop it', async t => {
  // The attacker is told apart by X-Forwarded-For from a trusted proxy: every test request comes from loopback.
  const issuer = await listenIssuer(t, { TRUST_PROXY: '127.0.0.1' })
  const rs = issuer.clients.resourceServer
  const c = await consumer(t, issuer.base, { introspection: { clientId: rs.id, clientSecret: rs.secret } })
  c.app.get('/payments', { onRequest: [c.app.authenticate], preHandler: [c.app.requireActive] }, async () => ({ ok: true }))
  const token = await issue(issuer)
  const pay = async () => (await c.app.inject({ url: '/payments', headers: { authorization: `Bearer ${token}` } })).statusCode
  const statuses: number[] = []
  for (let i = 0; i < 70; i++) statuses.push(await pay())
  t.same(statuses.filter(s => s !== 200), [], '70 requests in a minute, each introspected, all answered 200')
  const attacker: number[] = []
  for (let i = 0; i < 12; i++) {
    const res = await fetch(`${issuer.base}/oauth/introspect`, { method: 'POST', headers: { ...form, ...basic(rs.id, `wrong-${i}`), 'x-forwarded-for': '203.0.113.9' }, body: `token=${token}` })
    attacker.push(res.status)
  }
  t.ok(attacker.slice(-1)[0] === 429, `the guessing address is locked out (${attacker.join(' ')})`)
  t.equal(await pay(), 200, 'the resource server is not: requireActive routes keep answering')
})

t.test('introspection.cacheS: a positive answer is reused that long, never past the token\'s exp; a negative one is not', async t => {
  const issuer = await listenIssuer(t, { ACCESS_TOKEN_TTL_S: '60', CLOCK_TOLERANCE_S: '30' })
  const rs = issuer.clients.resourceServer
  const c = await consumer(t, issuer.base, { maxLifetimeS: 60, introspection: { clientId: rs.id, clientSecret: rs.secret, cacheS: 20 } })
  c.app.get('/payments', { onRequest: [c.app.authenticate], preHandler: [c.app.requireActive] }, async () => ({ ok: true }))
  const pay = async (token: string) => (await c.app.inject({ url: '/payments', headers: { authorization: `Bearer ${token}` } })).statusCode
  const revoke = async (token: string) => await fetch(`${issuer.base}/oauth/revoke`, { method: 'POST', headers: { ...form, ...basic(issuer.clients.acme.id, issuer.clients.acme.secret) }, body: `token=${token}` })
  const asked = () => hits(issuer, '/oauth/introspect')

  const token = await issue(issuer)
  for (let i = 0; i < 10; i++) t.equal(await pay(token), 200)
  t.equal(asked(), 1, 'ten requests, one introspection')
  await revoke(token)
  t.equal(await pay(token), 200, 'a revocation is seen at most cacheS late (the documented bound)')
  c.advance(21)
  t.equal(await pay(token), 401, 'once cacheS has passed the issuer is asked again and the revocation is seen')
  t.equal(await pay(token), 401)
  t.equal(asked(), 3, 'a negative answer is never cached')

  // A window longer than the token has left: the cached answer still ends at exp.
  const long = await consumer(t, issuer.base, { maxLifetimeS: 60, introspection: { clientId: rs.id, clientSecret: rs.secret, cacheS: 50 } })
  long.app.get('/payments', { onRequest: [long.app.authenticate], preHandler: [long.app.requireActive] }, async () => ({ ok: true }))
  const payLong = async (token: string) => (await long.app.inject({ url: '/payments', headers: { authorization: `Bearer ${token}` } })).statusCode
  const short = await issue(issuer)
  long.advance(30)
  t.equal(await payLong(short), 200, '30 s after issue: asked, and cached until exp (60 s), not for 50 s')
  const before = asked()
  long.advance(25)
  t.equal(await payLong(short), 200, '55 s: from the cache')
  t.equal(asked(), before, 'not asked again')
  await revoke(short)
  long.advance(10)
  t.equal(await payLong(short), 401, '65 s, past exp but inside the guard\'s clock tolerance: the cached answer is not used, and the issuer says revoked')
  t.equal(asked(), before + 1)
})
