// The hot-reloaded file under the key ring and the client registry (issue 15: one module for both stores).
import t, { type Test } from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../src/shared/atomic-file.js'
import { WatchedFile, type WatchedFileOptions } from '../../src/shared/watched-file.js'

const HOUR = 3_600_000 // no timer poll during a test: each poll is called by the test

interface Logged { level: string, event: string }

/** A JSON file holding `{ "n": number }`; anything else throws an error with a code, as the stores' loaders do. */
async function setup (t: Test, extra: Partial<WatchedFileOptions<number, { n: number, at: number }>> = {}) {
  const path = join(t.testdir({ 'value.json': '{"n":1}' }), 'value.json')
  const logged: Logged[] = []
  const log = (level: string) => (o: unknown) => { logged.push({ level, event: (o as { event: string }).event }) }
  let now = 1_000
  let loads = 0
  const file = await WatchedFile.open({
    path,
    load: async () => {
      loads++
      const n = (JSON.parse(await readFile(path, 'utf8')) as { n?: unknown }).n
      if (typeof n !== 'number') throw Object.assign(new Error('n is not a number'), { code: 'APP_TEST_INVALID' })
      return n
    },
    view: n => ({ n, at: now }),
    pollMs: HOUR,
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    clock: () => now,
    event: 'test',
    label: 'test value',
    ...extra
  })
  t.teardown(() => { file.stop() })
  return { file, path, logged, loads: () => loads, tick: (ms: number) => { now += ms } }
}

t.test('a bad file keeps the last good view, is logged once per distinct failure and once on recovery', async t => {
  const { file, path, logged, tick } = await setup(t)
  await writeFileAtomic(path, '{"n":"two"}')
  for (let i = 0; i < 3; i++) await file.reload(false)
  t.equal(file.view.n, 1, 'the last good value still serves')
  t.match(file.health, { failure: { code: 'APP_TEST_INVALID', since: 1_000 }, failures: 3 }, 'every poll re-reads a bad file and counts it')
  await writeFileAtomic(path, 'not json')
  tick(5_000)
  await file.reload(false)
  t.match(file.health, { failure: { code: 'ERROR', since: 1_000 }, failures: 4 }, 'a different failure; still failing since the first')
  await writeFileAtomic(path, '{"n":3}')
  t.equal(await file.reload(false), true)
  t.equal(file.view.n, 3)
  t.same(file.health, { failure: undefined, failures: 4 })
  t.same(logged, [{ level: 'error', event: 'test.reload_failed' }, { level: 'error', event: 'test.reload_failed' }, { level: 'info', event: 'test.reload_recovered' }])
})

t.test('a poll reads the file only when its version changed; reload() always reads', async t => {
  const { file, path, loads } = await setup(t)
  t.equal(loads(), 1, 'read once at open')
  t.equal(await file.reload(false), false)
  t.equal(loads(), 1, 'unchanged: not read')
  t.equal(await file.reload(), true, 'a forced read is a change by default')
  t.equal(loads(), 2)
  await writeFileAtomic(path, '{"n":2}')
  t.equal(await file.reload(false), true)
  t.equal(file.view.n, 2)
  t.equal(loads(), 3)
})

t.test('a time-dependent view is derived again at each poll, and listeners hear only of changes', async t => {
  const { file, tick, loads } = await setup(t, { timeDependent: true, changed: (next, previous) => Math.floor(next.at / 10_000) !== Math.floor(previous.at / 10_000) })
  const heard: number[] = []
  file.onChange(view => { heard.push(view.at) })
  tick(1_000)
  t.equal(await file.reload(false), false, 'the same ten seconds: no change')
  t.equal(file.view.at, 1_000, 'and the view is not even swapped')
  tick(10_000)
  t.equal(await file.reload(false), true, 'the next ten seconds: a change')
  t.same(heard, [12_000])
  t.equal(loads(), 1, 'from the value in memory: the file was not read again')
})

t.test('a failure at open is thrown: there is no last good value to keep', async t => {
  const path = join(t.testdir({ 'value.json': '{}' }), 'value.json')
  const quiet = { info () {}, warn () {}, error () {} }
  await t.rejects(WatchedFile.open({
    path,
    load: async () => { throw Object.assign(new Error('bad'), { code: 'APP_TEST_INVALID' }) },
    view: v => v,
    pollMs: HOUR,
    log: quiet,
    clock: Date.now,
    event: 'test',
    label: 'test value'
  }), { code: 'APP_TEST_INVALID' })
})
