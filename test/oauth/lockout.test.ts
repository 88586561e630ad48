// The lockout policy (src/oauth/lockout.ts) over the memory backend's counts; every backend's counts meet the same
// contract (test/tokens/state-contract.ts).
import t from 'tap'
import { ClientLockout, FailureLockout } from '../../src/oauth/lockout.js'
import { MemoryLockoutStore } from '../../src/tokens/memory-lockouts.js'

t.test('locks after the threshold, doubling up to the maximum', async t => {
  let now = 0
  const lockout = new FailureLockout(new MemoryLockoutStore(), { after: 2, baseMs: 1000, maxMs: 5000, clock: () => now })
  t.equal(await lockout.fail('a'), 0)
  t.equal(await lockout.lockedFor('a'), 0)
  t.equal(await lockout.fail('a'), 1000)
  t.equal(await lockout.lockedFor('a'), 1000)
  now += 400
  t.equal(await lockout.lockedFor('a'), 600)
  t.equal(await lockout.fail('a'), 2000)
  t.equal(await lockout.fail('a'), 4000)
  t.equal(await lockout.fail('a'), 5000, 'capped')
  t.equal(await lockout.fail('a'), 5000)
  await lockout.succeed('a')
  t.equal(await lockout.lockedFor('a'), 0, 'a success clears it')
})

t.test('old failures are forgotten', async t => {
  let now = 0
  const lockout = new FailureLockout(new MemoryLockoutStore(), { after: 2, baseMs: 1000, maxMs: 5000, clock: () => now })
  await lockout.fail('a')
  now += 10_001
  t.equal(await lockout.fail('a'), 0, 'the first failure no longer counts')
})

t.test('memory is bounded: the least recently failed id is forgotten first', async t => {
  const store = new MemoryLockoutStore({ maxEntries: 3 })
  const lockout = new FailureLockout(store, { after: 1, baseMs: 1000, maxMs: 5000 })
  for (const id of ['a', 'b', 'c', 'd']) await lockout.fail(id)
  t.equal(store.size, 3)
  t.equal(await lockout.lockedFor('a'), 0, 'a was evicted')
  t.ok(await lockout.lockedFor('d') > 0)
})

t.test('issue 13: failures from one source lock out that source only, never the client elsewhere', async t => {
  let now = 0
  const lockout = new ClientLockout(new MemoryLockoutStore(), { perSource: 3, perClient: 100, baseMs: 1000, maxMs: 60_000, clock: () => now })
  for (let i = 0; i < 3; i++) await lockout.fail('rs', '203.0.113.9')
  t.equal((await lockout.check('rs', '203.0.113.9')).waitMs, 1000, 'the guessing source waits')
  t.equal((await lockout.check('rs', '192.0.2.1')).waitMs, 0, 'the client from its own address does not')
  t.equal((await lockout.check('other', '203.0.113.9')).waitMs, 0, 'nor does another client from the guessing address')
  await lockout.succeed('rs', '192.0.2.1')
  t.equal((await lockout.check('rs', '203.0.113.9')).waitMs, 1000, 'a success elsewhere does not clear the guessing source')
  now += 1000
  t.equal((await lockout.check('rs', '203.0.113.9')).waitMs, 0, 'the lockout ends')
})

t.test('issue 13: failures across sources meet the per-client budget, which never blocks a source the client used', async t => {
  let now = 0
  const lockout = new ClientLockout(new MemoryLockoutStore(), { perSource: 3, perClient: 5, baseMs: 1000, maxMs: 60_000, clock: () => now })
  await lockout.succeed('rs', '192.0.2.1')
  const starts = []
  for (let i = 0; i < 6; i++) starts.push(await lockout.fail('rs', `10.0.0.${i}`))
  t.same(starts.map(s => s.sourceMs), [0, 0, 0, 0, 0, 0], 'one failure per source: no source lockout')
  t.same(starts.map(s => s.clientMs), [0, 0, 0, 0, 1000, 2000], 'the per-client budget locks from the fifth failure, doubling')
  t.equal((await lockout.check('rs', '10.0.0.99')).waitMs, 2000, 'a new source waits')
  t.equal((await lockout.check('rs', '192.0.2.1')).waitMs, 0, 'the source the client authenticated from does not')
  await lockout.succeed('rs', '192.0.2.1')
  t.equal((await lockout.check('rs', '10.0.0.99')).waitMs, 2000, 'the client\'s successes do not reset the budget')
  now += 120_001
  t.equal((await lockout.check('rs', '10.0.0.99')).waitMs, 0, 'a quiet spell of twice the longest lockout forgets it')
})

t.test('known sources are bounded: the least recently successful is forgotten first', async t => {
  const lockout = new ClientLockout(new MemoryLockoutStore({ maxEntries: 2 }), { perSource: 100, perClient: 1, baseMs: 1000, maxMs: 5000, clock: () => 0 })
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await lockout.succeed('c', ip)
  await lockout.fail('c', '10.0.0.1')
  t.equal((await lockout.check('c', '192.0.2.3')).waitMs, 0)
  t.equal((await lockout.check('c', '192.0.2.2')).waitMs, 0)
  t.equal((await lockout.check('c', '192.0.2.1')).waitMs, 1000, 'evicted, so no longer exempt')
})

t.test('two lockouts over one store keep their counts apart', async t => {
  const store = new MemoryLockoutStore()
  const bySource = new FailureLockout(store, { after: 1, baseMs: 1000, maxMs: 5000, keyPrefix: 'source ', clock: () => 0 })
  const byClient = new FailureLockout(store, { after: 1, baseMs: 1000, maxMs: 5000, keyPrefix: 'client ', clock: () => 0 })
  t.equal(await bySource.fail('a'), 1000)
  t.equal(await byClient.lockedFor('a'), 0, 'the other prefix has no failure of a')
  t.equal(await byClient.fail('a'), 1000, 'and starts its own count')
})

t.test('a success clears the failures its check saw, and writes nothing when it saw none', async t => {
  const store = new MemoryLockoutStore()
  const lockout = new ClientLockout(store, { perSource: 1, perClient: 100, baseMs: 1000, maxMs: 5000, clock: () => 0 })
  const clean = await lockout.check('c', '192.0.2.1')
  t.same(clean, { waitMs: 0, failures: false })
  await lockout.fail('c', '192.0.2.1') // lands between the check and the success
  await lockout.succeed('c', '192.0.2.1', clean)
  const seen = await lockout.check('c', '192.0.2.1')
  t.same(seen, { waitMs: 1000, failures: true }, 'the failure after a clean check is still counted')
  await lockout.succeed('c', '192.0.2.1', seen)
  t.same(await lockout.check('c', '192.0.2.1'), { waitMs: 0, failures: false }, 'a success after a check that saw failures clears them')
  await lockout.fail('c', '192.0.2.1')
  await lockout.succeed('c', '192.0.2.1')
  t.same(await lockout.check('c', '192.0.2.1'), { waitMs: 0, failures: false }, 'without a check, a success clears')
})
