// The token-state contract suite (src/tokens/state.ts): what every backend must guarantee, run against whatever
// `open` returns. memory-state.test.ts runs it on the memory backend; a SQLite or Redis backend runs it unchanged.
// Time is real (short expiries, real waits) and every id is random, so a backend that keeps state across tests, or
// expires entries with its own clock, passes or fails on its guarantees alone.
import type { Test } from 'tap'
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { RefreshRecord, TokenStateBackend } from '../../src/tokens/state.js'

/** Opens a backend for one test and registers its closing with `t.teardown`. */
export type OpenBackend = (t: Test) => Promise<TokenStateBackend>

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const id = (what: string): string => `${what}-${randomUUID()}`

function refreshRecord (over: Partial<RefreshRecord> = {}): RefreshRecord {
  const now = Date.now()
  return {
    clientId: 'client-1', org: 'acme', subject: 'alice', scope: 'features:read', hash: id('hash'), familyId: id('family'),
    familyExpiresAtMs: now + 3_600_000, issuedAtMs: now, expiresAtMs: now + 600_000, used: false, ...over
  }
}

export function tokenStateContract (t: Test, open: OpenBackend): void {
  t.test('deny-list: a revoked jti is denied until its expiry, then forgotten; other jtis are not', async t => {
    const { revoked } = await open(t)
    const jti = id('jti')
    t.equal(await revoked.has(jti), false, 'not denied before')
    // Held for a minute: a slow disk sync (SQLite, Redis with appendfsync always) cannot expire it mid-test.
    t.equal(await revoked.add(jti, Date.now() + 60_000), true, 'denied')
    t.equal(await revoked.has(jti), true)
    t.equal(await revoked.has(id('jti')), false, 'another jti is not')
    t.equal(await revoked.add(jti, Date.now() + 60_000), false, 'denying it again answers that it already was')
    const brief = id('jti')
    await revoked.add(brief, Date.now() + 300)
    await sleep(400)
    t.equal(await revoked.has(brief), false, 'forgotten once expired')
    t.equal(await revoked.has(jti), true, 'one not yet expired is kept')
  })

  t.test('deny-list: an expiry already past stores nothing', async t => {
    const { revoked } = await open(t)
    const jti = id('jti')
    await revoked.add(jti, Date.now() - 1)
    t.equal(await revoked.has(jti), false)
  })

  t.test('deny-list: concurrent revocations are all kept', async t => {
    const { revoked } = await open(t)
    const jtis = Array.from({ length: 200 }, () => id('jti'))
    await Promise.all(jtis.map(async jti => await revoked.add(jti, Date.now() + 60_000)))
    const denied = await Promise.all(jtis.map(async jti => await revoked.has(jti)))
    t.equal(denied.filter(Boolean).length, 200)
  })

  t.test('used assertions: an id is accepted once until its expiry, then may be used again', async t => {
    const { usedAssertions } = await open(t)
    const assertion = id('https://idp.example|jti')
    t.equal(await usedAssertions.add(assertion, Date.now() + 60_000), true, 'the first use is accepted')
    t.equal(await usedAssertions.add(assertion, Date.now() + 60_000), false, 'a replay is refused')
    t.equal(await usedAssertions.add(id('https://idp.example|jti'), Date.now() + 300), true, 'another id is accepted')
    const brief = id('https://idp.example|jti')
    await usedAssertions.add(brief, Date.now() + 300)
    await sleep(400)
    t.equal(await usedAssertions.add(brief, Date.now() + 300), true, 'forgotten once expired')
    t.equal(await usedAssertions.add(assertion, Date.now() + 60_000), false, 'one not yet expired is still refused')
  })

  t.test('used assertions: of concurrent uses of one id exactly one is accepted', async t => {
    const { usedAssertions } = await open(t)
    const assertion = id('https://idp.example|jti')
    const answers = await Promise.all(Array.from({ length: 25 }, async () => await usedAssertions.add(assertion, Date.now() + 60_000)))
    t.equal(answers.filter(Boolean).length, 1)
  })

  t.test('used assertions: an id whose expiry has passed is not kept', async t => {
    const { usedAssertions } = await open(t)
    const assertion = id('https://idp.example|jti')
    await usedAssertions.add(assertion, Date.now() - 1)
    t.equal(await usedAssertions.add(assertion, Date.now() + 60_000), true)
  })

  t.test('refresh families: a token reads back exactly as it was put; an unknown hash reads undefined', async t => {
    const { refreshFamilies } = await open(t)
    const federated = refreshRecord({ issuer: 'https://idp.example' })
    const plain = refreshRecord()
    await refreshFamilies.put(federated)
    await refreshFamilies.put(plain)
    t.same(await refreshFamilies.get(federated.hash), federated)
    const read = await refreshFamilies.get(plain.hash)
    t.same(read, plain)
    t.notOk(read !== undefined && 'issuer' in read, 'no issuer member when the grant has none')
    t.equal(await refreshFamilies.get(id('hash')), undefined)
  })

  t.test('refresh families: markUsed answers true once, then false; an unknown token answers false', async t => {
    const { refreshFamilies } = await open(t)
    const record = refreshRecord()
    await refreshFamilies.put(record)
    t.equal(await refreshFamilies.markUsed(record.hash), true)
    t.equal((await refreshFamilies.get(record.hash))?.used, true, 'the token reads as used')
    t.equal(await refreshFamilies.markUsed(record.hash), false, 'a second use is seen')
    t.equal(await refreshFamilies.markUsed(id('hash')), false)
  })

  t.test('refresh families: of concurrent markUsed calls on one token exactly one succeeds', async t => {
    const { refreshFamilies } = await open(t)
    const record = refreshRecord()
    await refreshFamilies.put(record)
    const answers = await Promise.all(Array.from({ length: 25 }, async () => await refreshFamilies.markUsed(record.hash)))
    t.equal(answers.filter(Boolean).length, 1)
  })

  t.test('issue 13: an access token is recorded in its family, or denied when the family is revoked, in one step', async t => {
    const { refreshFamilies, revoked } = await open(t)
    const { familyId } = refreshRecord()
    await refreshFamilies.put(refreshRecord({ familyId }))
    const [before, after] = [id('before'), id('after')]
    const exp = Date.now() + 900_000
    t.equal(await refreshFamilies.addAccessToken(familyId, before, exp), true)
    t.same(await refreshFamilies.revokeFamily(familyId), [{ jti: before, expiresAtMs: exp }], 'a token recorded before the revocation is in its list')
    t.equal(await revoked.has(before), true, 'and on the deny-list')
    t.equal(await refreshFamilies.addAccessToken(familyId, after, exp), false, 'one minted after it is not recorded')
    t.equal(await revoked.has(after), true, 'but denied in the same step')
    t.same(await refreshFamilies.revokeFamily(familyId), [{ jti: before, expiresAtMs: exp }], 'the family lists only what was recorded')
    const orphan = id('x')
    t.equal(await refreshFamilies.addAccessToken(id('no-such-family'), orphan, exp), false, 'a family that is gone records nothing')
    t.equal(await revoked.has(orphan), true, 'and the token is denied')
    const expired = id('expired')
    t.equal(await refreshFamilies.addAccessToken(familyId, expired, Date.now() - 1), false)
    t.equal(await revoked.has(expired), false, 'an expired token needs no denial')
  })

  t.test('refresh families: revoking a family revokes all of its tokens and no other family; a rotation does not revive it', async t => {
    const { refreshFamilies } = await open(t)
    const a = refreshRecord()
    const other = refreshRecord()
    await refreshFamilies.put(a)
    await refreshFamilies.put(refreshRecord({ familyId: a.familyId }))
    await refreshFamilies.put(other)
    t.equal(await refreshFamilies.isFamilyRevoked(a.familyId), false)
    await refreshFamilies.revokeFamily(a.familyId)
    t.equal(await refreshFamilies.isFamilyRevoked(a.familyId), true)
    t.equal(await refreshFamilies.isFamilyRevoked(other.familyId), false, 'another family is untouched')
    await refreshFamilies.put(refreshRecord({ familyId: a.familyId }))
    t.equal(await refreshFamilies.isFamilyRevoked(a.familyId), true, 'a token put into the revoked family (a rotation that lost the race) does not revive it')
    t.equal(await refreshFamilies.addAccessToken(a.familyId, id('jti'), Date.now() + 60_000), false)
    const unknown = id('family')
    t.same(await refreshFamilies.revokeFamily(unknown), [], 'an unknown family has nothing to revoke')
    t.equal(await refreshFamilies.isFamilyRevoked(unknown), false)
  })

  t.test('refresh families: revokeFamily lists and denies only the access tokens that have not expired', async t => {
    const { refreshFamilies, revoked } = await open(t)
    const { familyId } = refreshRecord()
    await refreshFamilies.put(refreshRecord({ familyId }))
    const [soon, later] = [id('soon'), id('later')]
    const laterExp = Date.now() + 600_000
    await refreshFamilies.addAccessToken(familyId, soon, Date.now() + 150)
    await refreshFamilies.addAccessToken(familyId, later, laterExp)
    await sleep(250)
    t.same(await refreshFamilies.revokeFamily(familyId), [{ jti: later, expiresAtMs: laterExp }])
    t.equal(await revoked.has(later), true)
    t.equal(await revoked.has(soon), false)
  })

  t.test('refresh families: access tokens racing the family\'s revocation are each either listed and denied, or denied instead of recorded', async t => {
    const { refreshFamilies, revoked } = await open(t)
    const { familyId } = refreshRecord()
    await refreshFamilies.put(refreshRecord({ familyId }))
    const jtis = Array.from({ length: 100 }, () => id('jti'))
    const exp = Date.now() + 600_000
    const add = async (jti: string): Promise<boolean> => await refreshFamilies.addAccessToken(familyId, jti, exp)
    // Half the additions are sent before the revocation, half after; a backend may serve them in any order.
    const first = jtis.slice(0, 50).map(add)
    const revocation = refreshFamilies.revokeFamily(familyId)
    const rest = jtis.slice(50).map(add)
    const [answers, listed] = await Promise.all([Promise.all([...first, ...rest]), revocation])
    const accepted = jtis.filter((_, i) => answers[i] === true)
    t.same(listed.map(l => l.jti).sort(), [...accepted].sort(), 'the revocation lists exactly the tokens that were recorded')
    const denied = await Promise.all(jtis.map(async jti => await revoked.has(jti)))
    t.equal(denied.filter(Boolean).length, jtis.length, 'and every token is denied: the recorded ones by the revocation, the others in place of recording them')
    const late = id('jti')
    t.equal(await add(late), false, 'nothing is recorded afterwards')
    t.equal(await revoked.has(late), true, 'and what would have been is denied')
    t.comment(`${accepted.length} of ${jtis.length} recorded before the revocation`)
  })

  t.test('lockouts: failures count up per key, remember the last one and are cleared', async t => {
    const { lockouts } = await open(t)
    const [a, b] = [id('source'), id('client')]
    const now = Date.now()
    t.equal(await lockouts.failures(a, now, 60_000), undefined, 'no failures yet')
    t.equal(await lockouts.addFailure(a, now, 60_000), 1)
    t.equal(await lockouts.addFailure(a, now + 1, 60_000), 2)
    t.equal(await lockouts.addFailure(a, now + 2, 60_000), 3)
    t.equal(await lockouts.addFailure(b, now + 2, 60_000), 1, 'keys count apart')
    t.same(await lockouts.failures(a, now + 3, 60_000), { count: 3, lastMs: now + 2 })
    await lockouts.clearFailures(a)
    t.equal(await lockouts.failures(a, now + 3, 60_000), undefined, 'cleared')
    t.same(await lockouts.failures(b, now + 3, 60_000), { count: 1, lastMs: now + 2 }, 'the other key is not')
    t.equal(await lockouts.addFailure(a, now + 4, 60_000), 1, 'and counts from one again')
  })

  t.test('lockouts: a count is forgotten after a quiet spell longer than forgetMs', async t => {
    const { lockouts } = await open(t)
    const key = id('source')
    // A spell of 1 s: long enough for two synced writes on a loaded machine, short enough to wait out.
    await lockouts.addFailure(key, Date.now(), 1000)
    t.equal(await lockouts.addFailure(key, Date.now(), 1000), 2)
    t.equal((await lockouts.failures(key, Date.now(), 1000))?.count, 2, 'remembered within the spell')
    await sleep(1100)
    t.equal(await lockouts.failures(key, Date.now(), 1000), undefined, 'forgotten after it')
    t.equal(await lockouts.addFailure(key, Date.now(), 1000), 1, 'the next failure counts from one')
  })

  t.test('lockouts: concurrent failures of one key are all counted', async t => {
    const { lockouts } = await open(t)
    const key = id('client')
    const counts = await Promise.all(Array.from({ length: 30 }, async () => await lockouts.addFailure(key, Date.now(), 60_000)))
    t.same([...counts].sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i + 1), 'each failure got its own count')
  })

  t.test('lockouts: known pairs are remembered per key', async t => {
    const { lockouts } = await open(t)
    const [pair, other] = [id('192.0.2.1 client'), id('192.0.2.2 client')]
    t.equal(await lockouts.isKnown(pair), false)
    await lockouts.addKnown(pair)
    await lockouts.addKnown(pair)
    t.equal(await lockouts.isKnown(pair), true)
    t.equal(await lockouts.isKnown(other), false)
  })

  t.test('rate limits: the backend\'s counters allow max requests per key and window, then refuse until it ends', async t => {
    const backend = await open(t)
    const app = Fastify()
    t.teardown(async () => { await app.close() })
    await app.register(rateLimit, { ...backend.rateLimits, global: false })
    const limit = app.createRateLimit({ max: 2, timeWindow: 2000, keyGenerator: request => String(request.headers['x-key']) })
    app.get('/', async request => {
      const result = await limit(request)
      return result.isAllowed ? { exceeded: false, ttlMs: 0 } : { exceeded: result.isExceeded, ttlMs: result.ttl }
    })
    await app.ready()
    const hit = async (key: string) => (await app.inject({ url: '/', headers: { 'x-key': key } })).json() as { exceeded: boolean, ttlMs: number }
    const [key, other] = [id('ip'), id('ip')]
    t.equal((await hit(key)).exceeded, false)
    t.equal((await hit(key)).exceeded, false)
    const third = await hit(key)
    t.equal(third.exceeded, true, 'the third request in the window is over the limit')
    t.ok(third.ttlMs > 0 && third.ttlMs <= 2000, `with the rest of the window to wait (${third.ttlMs} ms)`)
    t.equal((await hit(other)).exceeded, false, 'another key has its own count')
    await sleep(2100)
    t.equal((await hit(key)).exceeded, false, 'a new window starts afresh')
  })
}
