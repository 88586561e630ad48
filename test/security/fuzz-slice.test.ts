// Owns the fixed-seed slice of the fuzz run (issue 6) inside npm test; `npm run fuzz` runs the same properties for minutes.
import t from 'tap'
import fc from 'fast-check'
import { properties, send, startTarget } from './arbitraries.js'

t.test('a fixed-seed fuzz slice: every answer is a success or the endpoint\'s standard error, the server stays up', async t => {
  const target = await startTarget(t.testdir())
  t.teardown(target.close)
  for (const [i, p] of properties(target).entries()) {
    await t.test(p.name, async t => {
      const details = await fc.check(p.property, { seed: 20260 + i, numRuns: 60 })
      t.notOk(details.failed, fc.defaultReportMessage(details) ?? 'no counterexample')
      t.equal(details.numRuns, 60, 'every run executed')
    })
  }
  t.equal((await send(target.port, { method: 'GET', path: '/health' })).status, 200, 'the server still answers')
})
