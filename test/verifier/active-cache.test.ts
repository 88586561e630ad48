// requireActive's memory of positive introspection answers (issue 13).
import t from 'tap'
import { ActiveAnswers } from '../../src/verifier/active-cache.js'

t.test('an active answer is remembered for the ttl, never past the token\'s exp', async t => {
  const answers = new ActiveAnswers(5000)
  answers.remember('a', 100, 90_000)
  t.ok(answers.has('a', 94_999))
  t.notOk(answers.has('a', 95_000), 'the ttl ends it')
  answers.remember('b', 92, 90_000)
  t.ok(answers.has('b', 91_999))
  t.notOk(answers.has('b', 92_000), 'exp ends it first')
  answers.remember('c', 90, 90_000)
  t.notOk(answers.has('c', 90_000), 'an expired token is not remembered at all')
})

t.test('0 remembers nothing, and memory is bounded', async t => {
  const off = new ActiveAnswers(0)
  off.remember('a', 1e9, 0)
  t.notOk(off.has('a', 0))
  const small = new ActiveAnswers(5000, 3)
  for (const token of ['a', 'b', 'c', 'd']) small.remember(token, 1e9, 0)
  t.equal(small.size, 3)
  t.notOk(small.has('a', 0), 'the oldest went first')
  t.ok(small.has('d', 0))
})
