// The token-state contract (test/tokens/state-contract.ts) on the Redis backend, against a real redis-server, and
// what only a shared backend must add: two instances on one Redis see each other's revocations within 1 s, and two
// racing refreshes of one token on two instances give exactly one success.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { openTokenStateBackend } from '../../src/tokens/backend.js'
import { RefreshTokens } from '../../src/tokens/refresh-tokens.js'
import type { TokenStateBackend } from '../../src/tokens/state.js'
import { startRedis } from '../helpers/redis.js'
import { tokenStateContract } from './state-contract.js'

const redis = await startRedis(t)

const open = async (prefix = `test:${randomUUID()}:`): Promise<TokenStateBackend> =>
  await openTokenStateBackend({ store: 'redis', dataDir: '', clock: Date.now, redis: { url: redis.url, timeoutMs: 1000, prefix } })

tokenStateContract(t, async t => {
  const backend = await open()
  t.teardown(async () => { await backend.close() })
  return backend
})

/** Resolves with how long `check` took to become true (ms), or rejects after `withinMs`. */
async function seenWithin (check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = Date.now()
  while (Date.now() - start < withinMs) {
    if (await check()) return Date.now() - start
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  throw new Error(`not seen within ${withinMs} ms`)
}

t.test('two instances on one Redis: a revocation on either is denied by the other within 1 s, without asking Redis', async t => {
  const prefix = `test:${randomUUID()}:`
  const [a, b] = await Promise.all([open(prefix), open(prefix)])
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  const jti = randomUUID()
  t.equal(await b.revoked.has(jti), false)
  await a.revoked.add(jti, Date.now() + 60_000)
  const ms = await seenWithin(async () => await b.revoked.has(jti), 1000)
  t.pass(`denied by the other instance after ${ms} ms`)

  // A family revocation denies the family's access tokens on every instance, in the same step.
  const tokens = new RefreshTokens(a.refreshFamilies, { idleS: 600, absoluteS: 3600 })
  const { token, familyId } = await tokens.issue({ clientId: 'c1', org: 'acme', subject: 'alice', scope: 'features:read' }, Date.now())
  const accessJti = randomUUID()
  t.equal(await a.refreshFamilies.addAccessToken(familyId, accessJti, Date.now() + 60_000), true)
  t.equal((await tokens.revoke(token, 'c1')).revoked, true)
  t.pass(`the family's access token is denied by the other instance after ${await seenWithin(async () => await b.revoked.has(accessJti), 1000)} ms`)
  t.equal(await b.refreshFamilies.isFamilyRevoked(familyId), true, 'and the family is revoked there too')

  // The copy is local: with Redis frozen, a lookup still answers at once.
  redis.pause()
  try {
    const started = Date.now()
    t.equal(await b.revoked.has(jti), true)
    t.equal(await b.revoked.has(randomUUID()), false)
    t.ok(Date.now() - started < 500, 'lookups do not wait on Redis (its timeout is 1000 ms)')
  } finally { redis.resume() }
})

t.test('two concurrent refreshes of one token on two instances: exactly one succeeds, every time', async t => {
  const prefix = `test:${randomUUID()}:`
  const [a, b] = await Promise.all([open(prefix), open(prefix)])
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  const policy = { idleS: 600, absoluteS: 3600 }
  const [ta, tb] = [new RefreshTokens(a.refreshFamilies, policy), new RefreshTokens(b.refreshFamilies, policy)]
  for (let round = 0; round < 20; round++) {
    const { token } = await ta.issue({ clientId: 'c1', org: 'acme', subject: 'alice', scope: 'features:read' }, Date.now())
    const results = await Promise.all([ta.rotate(token, 'c1', Date.now()), tb.rotate(token, 'c1', Date.now())])
    const ok = results.filter(r => r.ok).length
    if (ok !== 1) { t.fail(`round ${round}: ${ok} successes (${JSON.stringify(results)})`); return }
  }
  t.pass('20 rounds, one success each')
})

t.test('a backend that cannot reach Redis refuses to open, within its timeout, naming the address and no password', async t => {
  const started = Date.now()
  const err = await openTokenStateBackend({ store: 'redis', dataDir: '', clock: Date.now, redis: { url: 'redis://:s3cret@127.0.0.1:1', timeoutMs: 300 } }).then(() => undefined, (e: unknown) => e as Error & { code?: string })
  t.equal(err?.code, 'APP_REDIS_UNAVAILABLE')
  t.match(err?.message, /127\.0\.0\.1:1/)
  t.notMatch(err?.message, /s3cret/)
  t.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`)
})

t.test('after a reconnection the local copy is reloaded whole: an announcement it missed is still denied', async t => {
  const prefix = `test:${randomUUID()}:`
  const backend = await open(prefix) as TokenStateBackend & { status: () => string }
  t.teardown(async () => { await backend.close() })
  const missed = randomUUID()
  // Written into Redis's list without the announcement, as if published while this instance was disconnected.
  const raw = new Redis(redis.url)
  await raw.zadd(`${prefix}deny`, Date.now() + 60_000, missed)
  await raw.quit()
  t.equal(await backend.revoked.has(missed), false, 'not announced, so not in the copy yet')
  await redis.stop('SIGTERM')
  await new Promise(resolve => setTimeout(resolve, 100))
  t.match(backend.status(), /^degraded: /, 'degraded while Redis is down')
  await redis.start()
  const ms = await seenWithin(async () => await backend.revoked.has(missed), 5000)
  t.pass(`reloaded ${ms} ms after Redis came back`)
  await seenWithin(async () => backend.status() === 'ok', 2000)
  t.equal(backend.status(), 'ok', 'and ready again')

  // Frozen: the connections stay up, so a failed call is what tells; readiness recovers without further calls.
  redis.pause()
  try {
    await t.rejects(backend.usedAssertions.add(randomUUID(), Date.now() + 60_000), { code: 'APP_REDIS_UNAVAILABLE' }, 'a call times out')
    t.match(backend.status(), /^degraded: Redis unavailable: Command timed out/)
  } finally { redis.resume() }
  t.pass(`ready again ${await seenWithin(async () => backend.status() === 'ok', 3000)} ms after Redis resumed, with no call made`)
})

t.test('a Redis that refuses writes for a passing reason (OOM at maxmemory) is unavailable, not a bug: APP_REDIS_UNAVAILABLE', async t => {
  const backend = await open() as TokenStateBackend & { status: () => string }
  t.teardown(async () => { await backend.close() })
  const raw = new Redis(redis.url)
  t.teardown(async () => { await raw.config('SET', 'maxmemory', '0'); await raw.quit() })
  const denied = randomUUID()
  await backend.revoked.add(denied, Date.now() + 60_000)
  await raw.config('SET', 'maxmemory', '1')
  // (Redis 7 lets a script without flags write past maxmemory: only the plain SET is refused here.)
  await t.rejects(backend.usedAssertions.add(randomUUID(), Date.now() + 60_000), { code: 'APP_REDIS_UNAVAILABLE', message: /OOM/ }, 'a write refused with OOM')
  t.equal(await backend.revoked.has(denied), true, 'lookups still answer')
  t.match(backend.status(), /^degraded: Redis unavailable: OOM/, 'readiness says why')
  await raw.config('SET', 'maxmemory', '0')
  // The circuit stays open until a probe answers (within 500 ms); then writes go through again.
  await seenWithin(async () => backend.status() === 'ok', 2000)
  t.equal(await backend.usedAssertions.add(randomUUID(), Date.now() + 60_000), true, 'writes resume once Redis takes them')
})

t.test('a subscriber cut off alone (CLIENT KILL TYPE pubsub) misses announcements, and its copy catches up on reconnecting', async t => {
  const prefix = `test:${randomUUID()}:`
  const [a, b] = await Promise.all([open(prefix), open(prefix)])
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  const raw = new Redis(redis.url)
  t.teardown(async () => { await raw.quit() })
  const jtis = Array.from({ length: 20 }, () => randomUUID())
  // Every subscriber is cut off; the revocations are announced to nobody while they reconnect.
  await raw.client('KILL', 'TYPE', 'pubsub')
  await Promise.all(jtis.map(async jti => await a.revoked.add(jti, Date.now() + 60_000)))
  const ms = await seenWithin(async () => (await Promise.all(jtis.map(async jti => await b.revoked.has(jti)))).every(Boolean), 1000)
  t.pass(`all ${jtis.length} denied by the other instance ${ms} ms after they were made`)
})

t.test('lockouts: a pair with no failures is answered from memory, and a failure on another instance is seen within 1 s', async t => {
  const prefix = `test:${randomUUID()}:`
  const [a, b] = await Promise.all([open(prefix), open(prefix)])
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  const [key, other] = [`192.0.2.1 ${randomUUID()}`, `192.0.2.2 ${randomUUID()}`]
  t.equal(await a.lockouts.failures(key, Date.now(), 60_000), undefined, 'no failures')
  redis.pause()
  try {
    const started = Date.now()
    t.equal(await a.lockouts.failures(key, Date.now(), 60_000), undefined, 'still none')
    t.ok(Date.now() - started < 500, 'answered without Redis (its timeout is 1000 ms)')
  } finally { redis.resume() }
  t.equal(await b.lockouts.addFailure(key, Date.now(), 60_000), 1)
  const ms = await seenWithin(async () => (await a.lockouts.failures(key, Date.now(), 60_000))?.count === 1, 1000)
  t.pass(`the failure on the other instance is counted here after ${ms} ms`)

  // Cut off from the announcements, an instance forgets what it knew and reads Redis again.
  t.equal(await a.lockouts.failures(other, Date.now(), 60_000), undefined)
  const raw = new Redis(redis.url)
  t.teardown(async () => { await raw.quit() })
  await raw.client('KILL', 'TYPE', 'pubsub')
  t.equal(await b.lockouts.addFailure(other, Date.now(), 60_000), 1, 'a failure announced to nobody')
  t.pass(`seen ${await seenWithin(async () => (await a.lockouts.failures(other, Date.now(), 60_000))?.count === 1, 1000)} ms later all the same`)
})

t.test('lockouts: with Redis failing, a remembered "no failures" does not answer: the check fails as every call does', async t => {
  const backend = await open() as TokenStateBackend & { status: () => string }
  t.teardown(async () => { await backend.close() })
  const key = `192.0.2.3 ${randomUUID()}`
  t.equal(await backend.lockouts.failures(key, Date.now(), 60_000), undefined, 'remembered as clean')
  redis.pause()
  try {
    // Frozen: the subscriber's connection stays up; a call that times out opens the circuit.
    await t.rejects(backend.usedAssertions.add(randomUUID(), Date.now() + 60_000), { code: 'APP_REDIS_UNAVAILABLE' })
    await t.rejects(backend.lockouts.failures(key, Date.now(), 60_000), { code: 'APP_REDIS_UNAVAILABLE' }, 'the lockout check is refused (503), not answered from memory')
  } finally { redis.resume() }
  await seenWithin(async () => backend.status() === 'ok', 3000)
  t.equal(await backend.lockouts.failures(key, Date.now(), 60_000), undefined, 'and answers again once Redis does')
})
