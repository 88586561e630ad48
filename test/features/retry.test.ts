// Retry: the back-off the feature store uses for compactions and for cutting back a fenced journal.
import t from 'tap'
import { Retry } from '../../src/features/embedded/retry.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('a failing task is retried after base, 2·base, 4·base… capped at max, and reports its recovery once', async t => {
  const at: number[] = []
  let failUntil = 5
  const failures: Array<[number, boolean]> = []
  const recoveries: number[] = []
  const retry = new Retry(async () => {
    at.push(Date.now())
    if (at.length <= failUntil) throw Object.assign(new Error(at.length < 3 ? 'disk full' : 'other'), { code: at.length < 3 ? 'ENOSPC' : 'EIO' })
  }, { baseMs: 20, maxMs: 80, onFailure: (_err, n, repeated) => { failures.push([n, repeated]) }, onRecovery: n => { recoveries.push(n) } })
  t.teardown(() => { retry.stop() })
  retry.start()
  retry.start() // a second start while one is under way or waiting does nothing
  for (let i = 0; i < 500 && recoveries.length === 0; i++) await sleep(10)
  t.equal(at.length, 6, 'five failures, then the success')
  const gaps = at.slice(1).map((ms, i) => ms - (at[i] as number))
  t.ok([20, 40, 80, 80, 80].every((min, i) => (gaps[i] as number) >= min - 5), `gaps ${gaps.join(', ')} ms follow 20, 40, 80 (capped), 80, 80`)
  t.same(failures, [[1, false], [2, true], [3, false], [4, true], [5, true]], 'a failure like the one before it is marked repeated')
  t.same(recoveries, [5], 'the recovery is told once, with the failures it ended')
  t.equal(retry.failures, 0)
  failUntil = 0
})

t.test('later() during a run that is finishing runs the task once more after the base delay', async t => {
  let runs = 0
  const retry: Retry = new Retry(async () => {
    runs++
    // Asked again while this run is under way: the run may already be past the point that would have seen it.
    if (runs === 1) retry.later()
  }, { baseMs: 10, maxMs: 10, onFailure: () => {} })
  t.teardown(() => { retry.stop() })
  retry.start()
  for (let i = 0; i < 50 && runs < 2; i++) await sleep(10)
  t.equal(runs, 2, 'run again')
  retry.stop()
  retry.later()
  await sleep(50)
  t.equal(runs, 2, 'a stopped retry never runs')
})
