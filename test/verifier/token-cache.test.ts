// The guard's verified-token cache: it may only skip work, never accept a token the full check would refuse.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { VerifiedTokenCache } from '../../src/verifier/token-cache.js'
import type { KeySource } from '../../src/verifier/guard.js'
import guard from '../../src/verifier/guard.js'
import { verificationRules } from '../../src/app.js'
import type { AccessTokenClaims } from '../../src/tokens/claims.js'
import type { Config } from '../../src/config.js'
import { emergency } from '../../src/keys/rotation.js'
import { saveRing } from '../../src/keys/store.js'
import { newRingKey } from '../../src/keys/generate.js'
import { build, tokenFor, decodePart } from '../helpers/app.js'
import { b64, rs256 } from '../helpers/forge.js'

const NOW = 1_800_000_000_000
const claims = (over: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({
  iss: 'i', sub: 's', aud: 'a', client_id: 'c', org: 'acme', scope: 'features:read', iat: NOW / 1000, exp: NOW / 1000 + 900, jti: 'j', ...over
})
const tokenWithKid = (kid: unknown, tail = 'sig'): string => `${b64({ alg: 'RS256', typ: 'at+jwt', kid })}.${b64({})}.${tail}`
const keysOf = (published: Record<string, string>): KeySource => ({ publicKey: kid => published[kid] })

t.test('VerifiedTokenCache', async t => {
  t.test('answers a remembered token with its claims until exp, then forgets it', async t => {
    const cache = new VerifiedTokenCache(10)
    const keys = keysOf({ k1: 'PEM1' })
    const token = tokenWithKid('k1')
    await cache.remember(token, claims(), keys)
    t.same(await cache.lookup(token, NOW + 1000, keys), claims())
    t.equal(await cache.lookup(token, NOW + 899_999, keys) !== undefined, true, 'a millisecond before exp: hit')
    t.equal(await cache.lookup(token, NOW + 900_000, keys), undefined, 'at exp: miss (no clock tolerance in the cache)')
    t.equal(cache.size, 0, 'the expired entry is dropped')
  })

  t.test('misses before iat or nbf, should the clock step back', async t => {
    const cache = new VerifiedTokenCache(10)
    const keys = keysOf({ k1: 'PEM1' })
    await cache.remember(tokenWithKid('k1', 'a'), claims(), keys)
    await cache.remember(tokenWithKid('k1', 'b'), { ...claims(), nbf: NOW / 1000 + 60 } as AccessTokenClaims, keys)
    t.equal(await cache.lookup(tokenWithKid('k1', 'a'), NOW - 1, keys), undefined)
    t.equal(await cache.lookup(tokenWithKid('k1', 'b'), NOW + 59_999, keys), undefined)
  })

  t.test('misses once the kid is no longer published, or is published with another key', async t => {
    const cache = new VerifiedTokenCache(10)
    const published: Record<string, string> = { k1: 'PEM1', k2: 'PEM2' }
    const keys = keysOf(published)
    await cache.remember(tokenWithKid('k1'), claims(), keys)
    await cache.remember(tokenWithKid('k2'), claims(), keys)
    delete published.k1
    published.k2 = 'OTHER'
    t.equal(await cache.lookup(tokenWithKid('k1'), NOW, keys), undefined, 'removed key')
    t.equal(await cache.lookup(tokenWithKid('k2'), NOW, keys), undefined, 'replaced key')
    published.k1 = 'PEM1'
    t.equal(await cache.lookup(tokenWithKid('k1'), NOW, keys), undefined, 'a dropped entry does not come back with its key')
  })

  t.test('remembers nothing without a published kid, and nothing at size 0', async t => {
    const keys = keysOf({ k1: 'PEM1' })
    const cache = new VerifiedTokenCache(10)
    for (const token of [tokenWithKid('unknown'), tokenWithKid(undefined), 'garbage', '.x.y']) await cache.remember(token, claims(), keys)
    t.equal(cache.size, 0)
    const off = new VerifiedTokenCache(0)
    await off.remember(tokenWithKid('k1'), claims(), keys)
    t.equal(await off.lookup(tokenWithKid('k1'), NOW, keys), undefined)
    t.throws(() => new VerifiedTokenCache(-1), TypeError)
  })

  t.test('is bounded: the oldest token goes first', async t => {
    const cache = new VerifiedTokenCache(2)
    const keys = keysOf({ k1: 'PEM1' })
    for (const tail of ['a', 'b', 'c']) await cache.remember(tokenWithKid('k1', tail), claims({ jti: tail }), keys)
    t.equal(cache.size, 2)
    t.equal(await cache.lookup(tokenWithKid('k1', 'a'), NOW, keys), undefined)
    t.equal((await cache.lookup(tokenWithKid('k1', 'c'), NOW, keys))?.jti, 'c')
  })

  t.test('hands out frozen claims, so no request can change what the next one sees', async t => {
    const cache = new VerifiedTokenCache(2)
    const keys = keysOf({ k1: 'PEM1' })
    await cache.remember(tokenWithKid('k1'), claims(), keys)
    t.ok(Object.isFrozen(await cache.lookup(tokenWithKid('k1'), NOW, keys)))
  })
})

/** A guarded route whose guard reports every claims object it checks for revocation. */
async function guardedWithSpy (app: FastifyInstance, config: Config, revoked: Set<string>): Promise<AccessTokenClaims[]> {
  const seen: AccessTokenClaims[] = []
  await app.register(async scope => {
    await scope.register(guard, {
      ...verificationRules(config),
      keys: app.keys,
      isRevoked: c => { seen.push(c); return revoked.has(c.jti) }
    })
    scope.get('/cached', { onRequest: scope.authenticate }, async request => ({ org: request.user.org }))
  })
  return seen
}

t.test('through the guard', async t => {
  t.test('a second request with the same token is a cache hit, and revocation is still asked', async t => {
    const { app, config, clients } = await build(t)
    const revoked = new Set<string>()
    const seen = await guardedWithSpy(app, config, revoked)
    const token = await tokenFor(app, clients.acme)
    const get = async () => await app.inject({ url: '/cached', headers: { authorization: `Bearer ${token}` } })
    t.equal((await get()).statusCode, 200)
    t.equal((await get()).statusCode, 200)
    t.equal(seen.length, 2, 'isRevoked asked on the miss and on the hit')
    t.equal(seen[0], seen[1], 'the hit answered the very claims the first request verified')

    revoked.add(decodePart(token, 1).jti as string)
    const res = await get()
    t.equal(res.statusCode, 401, 'a cached token, then revoked, is refused')
    t.match(res.headers['www-authenticate'], /error="invalid_token", error_description="token has been revoked"/)
  })

  t.test('a cached token is refused once it expires', async t => {
    const { app, config } = await build(t, { CLOCK_TOLERANCE_S: '0' })
    const seen = await guardedWithSpy(app, config, new Set())
    const key = app.keys.view.signing
    const iat = Math.floor(Date.now() / 1000)
    const header = { alg: 'RS256', typ: 'at+jwt', kid: key.kid }
    const token = rs256(header, { iss: config.ISSUER, aud: config.AUDIENCE, sub: 'c', client_id: 'c', org: 'acme', scope: 'features:read', jti: 'short', iat, exp: iat + 4 }, key.privateKey)
    const get = async () => await app.inject({ url: '/cached', headers: { authorization: `Bearer ${token}` } })
    t.equal((await get()).statusCode, 200)
    t.equal((await get()).statusCode, 200)
    t.equal(seen[0], seen[1], 'served from the cache while valid')
    await new Promise(resolve => setTimeout(resolve, (iat + 4) * 1000 - Date.now() + 50))
    const res = await get()
    t.equal(res.statusCode, 401)
    t.match(res.headers['www-authenticate'], /token has expired/)
  })

  t.test('a cached token is refused once its key is removed in an emergency', async t => {
    const { app, config, clients, keysDir } = await build(t)
    const seen = await guardedWithSpy(app, config, new Set())
    const token = await tokenFor(app, clients.acme)
    const get = async (url = '/cached') => await app.inject({ url, headers: { authorization: `Bearer ${token}` } })
    t.equal((await get()).statusCode, 200)
    t.equal((await get('/features/collections/sites/items')).statusCode, 200, 'the feature API has cached it too')
    t.equal((await get()).statusCode, 200)
    t.equal(seen[0], seen[1])

    const kid = decodePart(token, 0).kid as string
    const ring = emergency(app.keys.view.ring, kid, await newRingKey(2048, Date.now()), Date.now())
    if (ring === undefined) throw new Error('kid not in the ring')
    await saveRing(keysDir, ring)
    t.equal(await app.keys.reload(), true)
    for (const url of ['/cached', '/features/collections/sites/items']) {
      const res = await get(url)
      t.equal(res.statusCode, 401, `${url}: refused after the emergency removal`)
      t.match(res.headers['www-authenticate'], /token signing key is unknown/)
    }
  })

  t.test('a token forged after a real one was cached is still refused', async t => {
    const { app, config, clients } = await build(t)
    await guardedWithSpy(app, config, new Set())
    const token = await tokenFor(app, clients.acme)
    t.equal((await app.inject({ url: '/cached', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
    const [h, , s] = token.split('.') as [string, string, string]
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    const forged = [
      `${h}.${b64({ ...decodePart(token, 1), org: 'globex' })}.${s}`,
      rs256(decodePart(token, 0), { ...decodePart(token, 1), org: 'globex' }, foreign),
      `${token}=`, `${token.slice(0, -2)}`
    ]
    for (const f of forged) t.equal((await app.inject({ url: '/cached', headers: { authorization: `Bearer ${f}` } })).statusCode, 401)
  })
})
