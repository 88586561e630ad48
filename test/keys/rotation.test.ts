import t from 'tap'
import { rotate, prune, emergency } from '../../src/keys/rotation.js'
import { newRingKey } from '../../src/keys/generate.js'
import type { KeyRing, RingKey } from '../../src/keys/keyring.js'

const policy = { minPublishMs: 10_000, retentionMs: 60_000 }

async function ringAt (created: number): Promise<{ ring: KeyRing, fresh: RingKey[] }> {
  const keys = await Promise.all([0, 1, 2, 3].map(() => newRingKey(2048, created)))
  const [a, b, ...fresh] = keys as [RingKey, RingKey, ...RingKey[]]
  return { ring: { keys: [{ ...a, state: 'current', activatedAt: created }, b] }, fresh }
}

t.test('rotation promotes next, retires current and publishes a fresh next', async t => {
  const { ring, fresh } = await ringAt(0)
  const result = rotate(ring, fresh[0] as RingKey, 20_000, policy)
  if ('refused' in result) throw new Error(result.refused)
  t.same(result.ring.keys.map(k => k.state), ['retired', 'current', 'next'])
  t.equal(result.ring.keys[0]?.retiredAt, 20_000)
  t.equal(result.ring.keys[1]?.activatedAt, 20_000)
  t.equal(result.ring.keys[2]?.kid, fresh[0]?.kid)
})

t.test('rotation refuses a next key published for less than the JWKS max-age plus tolerance', async t => {
  const { ring, fresh } = await ringAt(0)
  const result = rotate(ring, fresh[0] as RingKey, 9_999, policy)
  t.ok('refused' in result)
  t.match((result as { refused: string }).refused, /published for 9 s/)
})

t.test('--force rotates anyway and says which rule it broke', async t => {
  const { ring, fresh } = await ringAt(0)
  const result = rotate(ring, fresh[0] as RingKey, 1_000, policy, true)
  if ('refused' in result) throw new Error('forced rotation refused')
  t.equal(result.overridden.length, 1)
  t.same(result.ring.keys.map(k => k.state), ['retired', 'current', 'next'])
})

t.test('a retired key is kept until every token it signed has expired, then deleted', async t => {
  const { ring, fresh } = await ringAt(0)
  const first = rotate(ring, fresh[0] as RingKey, 20_000, policy)
  if ('refused' in first) throw new Error(first.refused)
  const early = rotate(first.ring, fresh[1] as RingKey, 20_000 + 59_999, policy)
  if ('refused' in early) throw new Error(early.refused)
  t.same(early.removed, [], 'not deleted one millisecond before its retention ends')
  t.equal(early.ring.keys.filter(k => k.state === 'retired').length, 2)
  t.same(prune(early.ring, 20_000 + 60_000, policy.retentionMs).removed, [ring.keys[0]?.kid])
})

t.test('a ring without a next key only gains one: nothing signs unpublished', async t => {
  const { ring, fresh } = await ringAt(0)
  const lone = { keys: [ring.keys[0] as RingKey] }
  const result = rotate(lone, fresh[0] as RingKey, 50_000, policy)
  if ('refused' in result) throw new Error(result.refused)
  t.same(result.ring.keys.map(k => k.state), ['current', 'next'])
})

t.test('an emergency removes the compromised current key and promotes next at once', async t => {
  const { ring, fresh } = await ringAt(0)
  const victim = ring.keys[0]?.kid as string
  const after = emergency(ring, victim, fresh[0] as RingKey, 1)
  t.ok(after)
  t.notOk(after?.keys.some(k => k.kid === victim))
  t.same(after?.keys.map(k => k.state), ['current', 'next'])
  t.equal(emergency(ring, 'no-such-kid', fresh[0] as RingKey, 1), undefined)
})

t.test('an emergency on the next key replaces it with a fresh one', async t => {
  const { ring, fresh } = await ringAt(0)
  const after = emergency(ring, ring.keys[1]?.kid as string, fresh[0] as RingKey, 1)
  t.same(after?.keys.map(k => [k.kid, k.state]), [[ring.keys[0]?.kid, 'current'], [fresh[0]?.kid, 'next']])
})
