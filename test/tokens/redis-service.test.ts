// Issue 16: the service on STATE_STORE=redis, as instances in one process sharing one real redis-server. Rate
// limits and lockouts hold once across instances; with Redis killed or frozen the token and revocation endpoints
// (and introspection of refresh tokens) answer 503 temporarily_unavailable with Retry-After (never 500, never a
// hang) while the guard and access-token introspection keep verifying from the local deny-list copy and /ready
// says degraded; after a restart the service recovers
// within seconds and nothing Redis acknowledged (appendfsync always) is lost, as a fresh instance shows.
import t, { type Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import Fastify from 'fastify'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { geotoken, serverOptions } from '../../src/app.js'
import { basic, build, decodePart, form, tokenFor, type Built, type TestClient } from '../helpers/app.js'
import { assertion, JWT_BEARER, startIdp, trustedFile } from '../helpers/idp.js'
import { startRedis } from '../helpers/redis.js'

const ITEMS = '/features/collections/sites/items'
const redis = await startRedis(t, { appendfsync: 'always' })
const idp = await startIdp(t)
const TIMEOUT_MS = 300
// What a loaded 2-core machine may add to any answer: a request that waited on Redis without a timeout would never end.
const SCHEDULING_MS = 2000

/** The service on `env` plus Redis, on its own copy of `built`'s keys, clients and seed: another instance of it. */
async function instance (t: Test, built: Built): Promise<FastifyInstance> {
  // Not t.testdir(): a second call in one test would empty the first instance's directory.
  const root = mkdtempSync(join(tmpdir(), 'geotoken-instance-'))
  mkdirSync(join(root, 'keys'))
  copyFileSync(join(built.keysDir, 'keyring.json'), join(root, 'keys/keyring.json'))
  mkdirSync(join(root, 'data'), { recursive: true })
  for (const f of ['clients.json', 'seed.geojson']) copyFileSync(join(built.dataDir, f), join(root, 'data', f))
  const config = { ...built.config, KEYS_DIR: join(root, 'keys'), DATA_DIR: join(root, 'data'), SEED_FILE: join(root, 'data/seed.geojson'), LOG_LEVEL: 'silent' as const }
  const app = Fastify(serverOptions(config))
  await app.register(geotoken, { config })
  t.teardown(async () => { await app.close(); rmSync(root, { recursive: true, force: true }) })
  return app
}

async function first (t: Test, env: Record<string, string> = {}): Promise<Built> {
  return await build(t, {
    STATE_STORE: 'redis', REDIS_URL: redis.url, REDIS_TIMEOUT_MS: String(TIMEOUT_MS), TRUSTED_ISSUERS_FILE: trustedFile(idp), LOG_LEVEL: 'silent', ...env
  })
}

const post = async (app: FastifyInstance, who: TestClient, path: string, payload: string): Promise<LightMyRequestResponse> =>
  await app.inject({ method: 'POST', url: `/oauth/${path}`, headers: { ...form, ...basic(who.id, who.secret) }, payload })
const clientCredentials = async (app: FastifyInstance, who: TestClient) => await post(app, who, 'token', 'grant_type=client_credentials')
const refresh = async (app: FastifyInstance, who: TestClient, token: string) => await post(app, who, 'token', `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`)
const exchange = async (app: FastifyInstance, who: TestClient, jwt: string) => await post(app, who, 'token', `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${encodeURIComponent(jwt)}`)
const items = async (app: FastifyInstance, token: string) => (await app.inject({ url: ITEMS, headers: { authorization: `Bearer ${token}` } })).statusCode

t.test('the per-client rate limit and the lockout hold once across two instances, not once per instance', async t => {
  const a = await first(t, { TOKEN_RATE_PER_CLIENT: '4', AUTH_LOCKOUT_AFTER: '3' })
  const b = await instance(t, a)
  t.equal(a.app.tokenState.kind, 'redis')
  const codes: number[] = []
  for (let i = 0; i < 6; i++) codes.push((await clientCredentials(i % 2 === 0 ? a.app : b, a.clients.acme)).statusCode)
  t.same(codes, [200, 200, 200, 200, 429, 429], 'four requests in the window across both instances, then 429 on either')

  const wrong = { ...a.clients.globex, secret: 'wrong' }
  const failures = [(await clientCredentials(a.app, wrong)).statusCode, (await clientCredentials(b, wrong)).statusCode, (await clientCredentials(a.app, wrong)).statusCode]
  t.same(failures, [401, 401, 401], 'three failed authentications, on both instances')
  const locked = await clientCredentials(b, a.clients.globex)
  t.equal(locked.statusCode, 429, 'the fourth attempt is locked out, even with the right secret, on the other instance')
  t.equal(locked.json().error, 'temporarily_unavailable')
})

t.test('Redis killed, frozen and restarted: documented 503s, the guard keeps verifying, recovery within seconds, nothing acknowledged lost', async t => {
  const a = await first(t)
  const b = await instance(t, a)
  const fed = a.clients.acmeFederated

  // Acknowledged before the crash: a revocation, a refresh rotation (R1 -> R2), a used assertion.
  const kept = await tokenFor(a.app, a.clients.acme)
  const revoked = await tokenFor(a.app, a.clients.acme)
  t.equal((await post(a.app, a.clients.acme, 'revoke', `token=${revoked}`)).statusCode, 200)
  const jwt = await assertion(idp)
  const r1 = (await exchange(a.app, fed, jwt)).json() as { refresh_token: string, access_token: string }
  const rotated = await refresh(b, fed, r1.refresh_token)
  t.equal(rotated.statusCode, 200, 'rotated on the other instance')
  const r2 = (rotated.json() as { refresh_token: string }).refresh_token
  t.equal(await items(b, revoked), 401, 'the revocation is refused by the other instance')

  await redis.stop('SIGKILL')
  const expect503 = async (what: string, send: () => Promise<LightMyRequestResponse>): Promise<void> => {
    const started = Date.now()
    const res = await send()
    const ms = Date.now() - started
    t.equal(res.statusCode, 503, `${what}: 503 (${ms} ms)`)
    t.match(res.json(), { error: 'temporarily_unavailable', error_description: String }, `${what}: RFC 6749 §5.2 body`)
    t.ok(Number(res.headers['retry-after']) > 0, `${what}: Retry-After ${String(res.headers['retry-after'])}`)
    t.ok(ms < TIMEOUT_MS + SCHEDULING_MS, `${what}: answered within the timeout`)
  }
  const outage = async (label: string): Promise<void> => {
    await expect503(`${label} client_credentials`, async () => await clientCredentials(a.app, a.clients.acme))
    await expect503(`${label} refresh_token`, async () => await refresh(b, fed, r2))
    await expect503(`${label} jwt-bearer`, async () => await exchange(a.app, fed, await assertion(idp)))
    await expect503(`${label} revoke`, async () => await post(b, a.clients.acme, 'revoke', `token=${kept}`))
    await expect503(`${label} introspect (refresh token)`, async () => await post(a.app, fed, 'introspect', `token=${r2}`))
    const introspect = async (token: string): Promise<{ status: number, active: unknown, ms: number }> => {
      const started = Date.now()
      const res = await post(a.app, a.clients.resourceServer, 'introspect', `token=${token}`)
      return { status: res.statusCode, active: res.json().active, ms: Date.now() - started }
    }
    const live = await introspect(kept)
    t.match(live, { status: 200, active: true }, `${label}: introspection of an access token still answers (${live.ms} ms)`)
    t.ok(live.ms < 2 * TIMEOUT_MS + SCHEDULING_MS, `${label}: within the timeouts`)
    t.match(await introspect(revoked), { status: 200, active: false }, `${label}: and a revoked one is inactive (local copy)`)
    t.equal(await items(a.app, kept), 200, `${label}: a valid token still verifies`)
    t.equal(await items(b, kept), 200, `${label}: on both instances`)
    t.equal(await items(b, revoked), 401, `${label}: a token revoked before the outage is still refused (local copy)`)
    const ready = await a.app.inject({ url: '/ready' })
    t.equal(ready.statusCode, 200, `${label}: /ready keeps the instance in the balancer`)
    t.equal(ready.json().status, 'degraded')
    t.match(ready.json().checks['token-state'], /^degraded: /, `${label}: ${String(ready.json().checks['token-state'])}`)
  }
  await outage('killed')

  await redis.start()
  const recovered = async (): Promise<number> => {
    const started = Date.now()
    while (Date.now() - started < 10_000) {
      if ((await clientCredentials(a.app, a.clients.acme)).statusCode === 200 && (await a.app.inject({ url: '/ready' })).json().status === 'ready') return Date.now() - started
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new Error('not recovered within 10 s')
  }
  const ms = await recovered()
  t.ok(ms < 5000, `recovered ${ms} ms after Redis restarted`)

  // Frozen (SIGSTOP): connections stay open and nothing answers; the timeout answers instead.
  redis.pause()
  try {
    await outage('frozen')
  } finally { redis.resume() }
  t.pass(`recovered ${await recovered()} ms after Redis resumed`)

  // Nothing acknowledged is lost: a fresh instance (its deny-list copy loaded from Redis alone) sees all of it.
  await redis.stop('SIGKILL')
  await redis.start()
  const c = await instance(t, a)
  t.equal(await items(c, revoked), 401, 'the revocation survived the crash')
  t.equal(await items(c, kept), 200)
  const replay = await exchange(c, fed, jwt)
  t.equal(replay.json().error, 'invalid_grant', 'the used assertion cannot be replayed')
  const r3 = await refresh(c, fed, r2)
  t.equal(r3.statusCode, 200, 'the rotated refresh token works once (every 503 above left it unspent)')
  const reuse = await refresh(c, fed, r1.refresh_token)
  t.equal(reuse.json().error, 'invalid_grant', 'its predecessor\'s reuse is detected')
  t.equal((await refresh(c, fed, (r3.json() as { refresh_token: string }).refresh_token)).json().error, 'invalid_grant', 'and revokes the family')
  t.equal(await items(a.app, (r3.json() as { access_token: string }).access_token), 401, 'whose access token is refused by the other instances too')
  t.ok(decodePart(kept, 1).jti !== undefined)
})

t.test('REDIS_RATE_LIMIT_URL: the counters live in another Redis, shared by both instances; that Redis down is a 503 too', async t => {
  const counters = await startRedis(t, { appendfsync: 'everysec' })
  const a = await first(t, { TOKEN_RATE_PER_CLIENT: '3', REDIS_RATE_LIMIT_URL: counters.url })
  const b = await instance(t, a)
  const codes: number[] = []
  for (let i = 0; i < 4; i++) codes.push((await clientCredentials(i % 2 === 0 ? a.app : b, a.clients.acme)).statusCode)
  t.same(codes, [200, 200, 200, 429], 'three across both instances, then 429')
  const raw = new Redis(counters.url)
  t.ok((await raw.keys(`geotoken:state:rl:*${a.clients.acme.id}*`)).length > 0, 'the counters are in the rate-limit Redis')
  await raw.quit()
  const main = new Redis(redis.url)
  t.equal((await main.keys(`geotoken:state:rl:*${a.clients.acme.id}*`)).length, 0, 'and not in the state Redis')
  await main.quit()

  const token = await tokenFor(b, a.clients.globex)
  await counters.stop('SIGKILL')
  const res = await clientCredentials(a.app, a.clients.globex)
  t.equal(res.statusCode, 503)
  t.equal(res.json().error, 'temporarily_unavailable')
  t.equal(await items(a.app, token), 200, 'the guard does not need it')
  const ready = (await a.app.inject({ url: '/ready' })).json()
  t.equal(ready.status, 'degraded')
  t.match(ready.checks['token-state'], /rate-limit Redis unavailable/)
  await counters.start()
  let back = 0
  for (let i = 0; i < 100 && back !== 200; i++) {
    back = (await clientCredentials(a.app, a.clients.globex)).statusCode
    if (back !== 200) await new Promise(resolve => setTimeout(resolve, 100))
  }
  t.equal(back, 200, 'and it recovers')
})

t.test('Redis restarted under load: only 200 or the documented 503 at the token endpoint, only 200 on the guarded route, none slow', async t => {
  const a = await first(t, { TOKEN_RATE_PER_CLIENT: '1000000', TOKEN_RATE_PER_IP: '1000000' })
  const b = await instance(t, a)
  const token = await tokenFor(a.app, a.clients.acme)
  const seen = { token: new Map<number, number>(), items: new Map<number, number>() }
  let slowest = 0
  let running = true
  const count = (map: Map<number, number>, code: number): void => { map.set(code, (map.get(code) ?? 0) + 1) }
  const loop = async (app: FastifyInstance): Promise<void> => {
    while (running) {
      const started = Date.now()
      const [issued, guarded] = await Promise.all([clientCredentials(app, a.clients.acme), items(app, token)])
      slowest = Math.max(slowest, Date.now() - started)
      count(seen.token, issued.statusCode)
      if (issued.statusCode === 503 && issued.headers['retry-after'] === undefined) count(seen.token, -1)
      count(seen.items, guarded)
      // inject() of an answer that needs no I/O (a 503 from the open circuit) completes in microtasks alone: yield to
      // the event loop as real sockets would, or the loops starve the timers that reconnect to Redis.
      await new Promise(resolve => setImmediate(resolve))
    }
  }
  const loops = Array.from({ length: 8 }, (_, i) => loop(i % 2 === 0 ? a.app : b))
  await new Promise(resolve => setTimeout(resolve, 300))
  await redis.stop('SIGKILL')
  await new Promise(resolve => setTimeout(resolve, 700))
  await redis.start()
  const restarted = Date.now()
  // Recovered once a token request succeeds again after the restart.
  let recoveredMs = -1
  while (Date.now() - restarted < 10_000) {
    if ((await clientCredentials(a.app, a.clients.acme)).statusCode === 200) { recoveredMs = Date.now() - restarted; break }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  await new Promise(resolve => setTimeout(resolve, 300))
  running = false
  await Promise.all(loops)
  t.comment(`token endpoint: ${JSON.stringify([...seen.token])}; guarded items: ${JSON.stringify([...seen.items])}; slowest pair ${slowest} ms`)
  t.same([...seen.token.keys()].filter(code => code !== 200 && code !== 503), [], 'the token endpoint answered only 200 or 503 (with Retry-After)')
  t.ok((seen.token.get(503) ?? 0) > 0 && (seen.token.get(200) ?? 0) > 0, 'both were seen')
  t.same([...seen.items.keys()], [200], 'the guarded route answered 200 throughout')
  t.ok(slowest < TIMEOUT_MS + SCHEDULING_MS, `no request waited past the timeout (slowest ${slowest} ms)`)
  t.ok(recoveredMs >= 0 && recoveredMs < 5000, `tokens issued again ${recoveredMs} ms after the restart`)
})
