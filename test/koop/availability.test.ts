// When the issuer cannot answer, Koop says "retry later" (503), never "invalid token" (498), which would make
// ArcGIS clients throw good tokens away; with introspection, a revoked token is refused at once.
import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { basic, form, testRing } from '../helpers/app.js'
import { rs256 } from '../helpers/forge.js'
import { listenIssuer, tokenOverHttp } from '../helpers/net.js'
import { koopAuth, type KoopRequest } from '../../src/koop/plugin.js'
import { ACME, QUERY, arcgisToken, generateToken, get, listenKoop, names } from '../helpers/koop.js'

const RETRY = { code: 503, details: ['retry later'] }

t.test('an issuer that never answers: queries and generateToken answer 503 within the timeout, not 498', async t => {
  const sockets = new Set<Socket>()
  const hole = createServer(socket => { sockets.add(socket) }).listen(0, '127.0.0.1')
  await new Promise(resolve => hole.once('listening', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); hole.close() })
  const issuer = `http://127.0.0.1:${(hole.address() as { port: number }).port}`
  const koop = await listenKoop(t, { auth: { issuer, audience: `${issuer}/features`, jwks: { timeoutMs: 300 } } })
  const key = (await testRing()).keys[0]
  if (key === undefined) throw new Error('no key')
  const now = Math.floor(Date.now() / 1000)
  const token = rs256({ alg: 'RS256', typ: 'at+jwt', kid: key.kid }, { iss: issuer, sub: 's', aud: `${issuer}/features`, client_id: 's', org: 'acme', scope: 'features:read', iat: now, exp: now + 60, jti: 'j' }, key.privateKey)

  const started = Date.now()
  const answer = await get(koop.layer + QUERY, { token })
  t.match(answer.body, { error: { ...RETRY, message: 'the keys to verify the token are unavailable; retry later' } }, 'a query: 503 "retry later"')
  t.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`)
  t.match(await generateToken(koop.base, 'acme-x', 'secret'), { error: { ...RETRY, message: /^the token issuer is unavailable/ } }, 'generateToken: 503 too')
  t.ok(koop.logs.some(l => l.includes('the keys to verify the token are unavailable')), 'Koop logs it')
})

t.test('with introspection, a revoked token is refused at once (498), and an issuer that cannot say gives 503', async t => {
  const issuer = await listenIssuer(t)
  const rs = issuer.clients.resourceServer
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features`, introspection: { clientId: rs.id, clientSecret: rs.secret } } })
  const token = await arcgisToken(koop.base, issuer.clients.acme)
  t.same(names(await get(koop.layer + QUERY, { token })), ACME, 'active: served')
  const revoked = await fetch(`${issuer.base}/oauth/revoke`, { method: 'POST', headers: { ...form, ...basic(issuer.clients.acme.id, issuer.clients.acme.secret) }, body: `token=${token}` })
  t.equal(revoked.status, 200, 'acme revokes its token at the issuer')
  t.same((await get(koop.layer + QUERY, { token })).body, { error: { code: 498, message: 'Invalid token.', details: [] } }, 'revoked: refused on the next request, though the signature still verifies')
  t.ok(koop.logs.some(l => l.includes('geotoken: invalid token (revoked)')), 'logged as revoked')
  const fresh = await arcgisToken(koop.base, issuer.clients.acme)
  await issuer.app.close()
  t.match((await get(koop.layer + QUERY, { token: fresh })).body, { error: { ...RETRY, message: 'the token issuer could not confirm the token; retry later' } }, 'issuer gone: 503, fail closed')
})

t.test('the issuer\'s rate limit on its token endpoint reaches the ArcGIS client as a 429, not as wrong credentials', async t => {
  const issuer = await listenIssuer(t, { TOKEN_RATE_PER_CLIENT: '2' })
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` } })
  const { acme } = issuer.clients
  for (let i = 0; i < 2; i++) t.type((await generateToken(koop.base, acme.id, acme.secret)).token, 'string', `token ${i + 1}`)
  t.match(await generateToken(koop.base, acme.id, acme.secret), { error: { code: 429, message: 'too many token requests; retry later' } }, 'the third: 429')
})

t.test('introspection.cacheS: an active answer is reused that long (never past exp), as the remote verifier does; a negative one is not', async t => {
  const issuer = await listenIssuer(t, { ACCESS_TOKEN_TTL_S: '60', CLOCK_TOLERANCE_S: '30' })
  const rs = issuer.clients.resourceServer
  let offsetMs = 0
  const plugin = koopAuth({
    issuer: issuer.base, audience: `${issuer.base}/features`, maxLifetimeS: 60, clock: () => Date.now() + offsetMs,
    introspection: { clientId: rs.id, clientSecret: rs.secret, cacheS: 20 }
  })
  const request = (token: string): KoopRequest => ({ method: 'GET', url: `/x/FeatureServer/0/query?token=${token}`, headers: {}, query: { token }, body: {} })
  const authorize = async (token: string): Promise<string> => await plugin.authorize(request(token)).then(() => 'ok', (err: { reason?: string }) => err.reason ?? String(err))
  const asked = () => issuer.logs.filter(l => l.includes('"request completed"') && l.includes('"url":"/oauth/introspect"')).length
  const revoke = async (token: string) => await fetch(`${issuer.base}/oauth/revoke`, { method: 'POST', headers: { ...form, ...basic(issuer.clients.acme.id, issuer.clients.acme.secret) }, body: `token=${token}` })

  const token = await tokenOverHttp(issuer.base, issuer.clients.acme)
  for (let i = 0; i < 10; i++) t.equal(await authorize(token), 'ok')
  t.equal(asked(), 1, 'ten requests, one introspection')
  await revoke(token)
  t.equal(await authorize(token), 'ok', 'a revocation is seen at most cacheS late (the documented bound)')
  offsetMs += 21_000
  t.equal(await authorize(token), 'revoked', 'once cacheS has passed the issuer is asked again and the revocation is seen')
  t.equal(await authorize(token), 'revoked')
  t.equal(asked(), 3, 'a negative answer is never cached')

  const short = await tokenOverHttp(issuer.base, issuer.clients.acme)
  offsetMs = 30_000
  t.equal(await authorize(short), 'ok', '30 s after issue: asked, and cached until exp (60 s), not for 50 s')
  const before = asked()
  offsetMs = 45_000
  t.equal(await authorize(short), 'ok', '45 s: from the cache')
  t.equal(asked(), before, 'not asked again')

  const off = koopAuth({ issuer: issuer.base, audience: `${issuer.base}/features`, introspection: { clientId: rs.id, clientSecret: rs.secret } })
  const fresh = await tokenOverHttp(issuer.base, issuer.clients.acme)
  const start = asked()
  for (let i = 0; i < 3; i++) await off.authorize(request(fresh))
  t.equal(asked(), start + 3, 'without cacheS (default 0) every request asks the issuer')
})
