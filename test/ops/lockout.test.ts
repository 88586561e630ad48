import t from 'tap'
import { FailureLockout } from '../../src/ops/lockout.js'

t.test('locks after the threshold, doubling up to the maximum', async t => {
  let now = 0
  const lockout = new FailureLockout({ after: 2, baseMs: 1000, maxMs: 5000, clock: () => now })
  t.equal(lockout.fail('a'), 0)
  t.equal(lockout.lockedFor('a'), 0)
  t.equal(lockout.fail('a'), 1000)
  t.equal(lockout.lockedFor('a'), 1000)
  now += 400
  t.equal(lockout.lockedFor('a'), 600)
  t.equal(lockout.fail('a'), 2000)
  t.equal(lockout.fail('a'), 4000)
  t.equal(lockout.fail('a'), 5000, 'capped')
  t.equal(lockout.fail('a'), 5000)
  lockout.succeed('a')
  t.equal(lockout.lockedFor('a'), 0, 'a success clears it')
})

t.test('old failures are forgotten', async t => {
  let now = 0
  const lockout = new FailureLockout({ after: 2, baseMs: 1000, maxMs: 5000, clock: () => now })
  lockout.fail('a')
  now += 10_001
  t.equal(lockout.fail('a'), 0, 'the first failure no longer counts')
})

t.test('memory is bounded: the least recently failed id is forgotten first', async t => {
  const lockout = new FailureLockout({ after: 1, baseMs: 1000, maxMs: 5000, maxEntries: 3 })
  for (const id of ['a', 'b', 'c', 'd']) lockout.fail(id)
  t.equal(lockout.size, 3)
  t.equal(lockout.lockedFor('a'), 0, 'a was evicted')
  t.ok(lockout.lockedFor('d') > 0)
})
