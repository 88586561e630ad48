// The store lock (issue 13): never two holders, never stuck on a dead holder or a leftover lock file, bounded waits.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { withLock } from '../../src/shared/file-lock.js'
import { StoreLocked } from '../../src/shared/errors.js'
import { holdLock, startLockWorker } from '../helpers/lock-worker.js'

const busy = (path: string) => (holder: string) => new StoreLocked(path, holder)

/** The most holders at once, from the shared log: in the file's order, and again in CLOCK_MONOTONIC order. */
function maxHolders (log: string): { byOrder: number, byTime: number, holds: number } {
  const events = log.trim().split('\n').map(line => {
    const [kind, , at] = line.split(' ')
    return { delta: kind === 'enter' ? 1 : -1, at: BigInt(at as string) }
  })
  const depth = (list: typeof events): number => {
    let now = 0
    let max = 0
    for (const e of list) { now += e.delta; max = Math.max(max, now) }
    return max
  }
  // At an equal timestamp an exit sorts first: touching holds are not overlapping ones.
  const byTime = [...events].sort((a, b) => a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1)
  return { byOrder: depth(events), byTime: depth(byTime), holds: events.length / 2 }
}

/** A pid that belonged to a process which has exited (the old lock's "stale" case). */
function deadPid (): number {
  const { pid } = spawnSync('true')
  if (pid === undefined) throw new Error('could not run true')
  return pid
}

t.test('four processes contending, starting on a lock file a dead process left, never hold the lock together', async t => {
  const workers = await Promise.all([0, 1, 2, 3].map(async () => await startLockWorker(t)))
  const trials = 6
  const overlapping: number[] = []
  const root = t.testdir()
  for (let trial = 0; trial < trials; trial++) {
    const dir = join(root, String(trial))
    await mkdir(dir)
    const path = join(dir, 'data.json')
    const log = join(dir, 'holds.log')
    await writeFile(log, '')
    await writeFile(`${path}.lock`, String(deadPid()))
    const done = workers.map(w => w.next('done'))
    for (const w of workers) w.send({ kind: 'contend', path, log, rounds: 5, holdMs: 2 })
    await Promise.all(done)
    const holders = maxHolders(await readFile(log, 'utf8'))
    t.equal(holders.holds, 20, `trial ${trial}: every process held the lock every round`)
    if (holders.byOrder > 1 || holders.byTime > 1) overlapping.push(trial)
  }
  t.same(overlapping, [], `no trial of ${trials} had two holders at once`)
})

t.test('two callers in one process exclude each other too', async t => {
  const dir = t.testdir()
  const path = join(dir, 'data.json')
  let inside = 0
  let most = 0
  const section = async (): Promise<void> => {
    inside++
    most = Math.max(most, inside)
    await new Promise(resolve => setTimeout(resolve, 10))
    inside--
  }
  await Promise.all(Array.from({ length: 5 }, async () => { await withLock(path, section, busy(path)) }))
  t.equal(most, 1)
})

t.test('a holder killed with SIGKILL while holding does not block the next one', async t => {
  const path = join(t.testdir(), 'data.json')
  const holder = await holdLock(t, path)
  await t.rejects(withLock(path, async () => {}, busy(path), { timeoutMs: 200 }), { code: 'APP_STORE_LOCKED' }, 'held while the holder lives')
  await holder.kill()
  const started = performance.now()
  t.equal(await withLock(path, async () => 'mine', busy(path), { timeoutMs: 1000 }), 'mine')
  t.ok(performance.now() - started < 500, 'acquired promptly once the holder is dead')
})

t.test('a process killed at any moment of taking, holding or releasing the lock never blocks later holders', async t => {
  const path = join(t.testdir(), 'data.json')
  for (let round = 0; round < 8; round++) {
    const churner = await startLockWorker(t)
    const churning = churner.next('churning')
    churner.send({ kind: 'churn', path })
    await churning
    await new Promise(resolve => setTimeout(resolve, 5 + Math.random() * 45))
    await churner.kill()
    t.equal(await withLock(path, async () => round, busy(path), { timeoutMs: 1000 }), round, `round ${round}: acquired after the kill`)
  }
})

t.test('a lock file left empty does not block', async t => {
  const path = join(t.testdir(), 'data.json')
  await writeFile(`${path}.lock`, '')
  t.equal(await withLock(path, async () => 'ran', busy(path), { timeoutMs: 1000 }), 'ran')
})

t.test('a lock file naming a live process that does not hold the lock does not block', async t => {
  const path = join(t.testdir(), 'data.json')
  // This test's own pid: alive, and (as after a pid is reused in a container) not a holder.
  await writeFile(`${path}.lock`, String(process.pid))
  t.equal(await withLock(path, async () => 'ran', busy(path), { timeoutMs: 1000 }), 'ran')
})

t.test('waiting for a live holder (which collects garbage meanwhile) ends after the timeout with APP_STORE_LOCKED naming the holder', async t => {
  const path = join(t.testdir(), 'data.json')
  const holder = await holdLock(t, path)
  let named = ''
  const started = performance.now()
  await t.rejects(withLock(path, async () => {}, h => { named = h; return new StoreLocked(path, h) }, { timeoutMs: 300 }), { code: 'APP_STORE_LOCKED' })
  const waited = performance.now() - started
  t.ok(waited >= 300 && waited < 1500, `waited about the timeout (${Math.round(waited)} ms)`)
  t.match(named, new RegExp(`^pid ${String(holder.child.pid)} on \\S+ since \\d{4}-`))
})

t.test('the lock file is beside the data file, never the data file, and is left empty after use', async t => {
  const dir = t.testdir({ 'data.json': 'the data' })
  const path = join(dir, 'data.json')
  await withLock(path, async () => {
    t.match(await readFile(`${path}.lock`, 'utf8'), new RegExp(`^pid ${process.pid} `), 'the holder describes itself while it holds')
  }, busy(path))
  t.equal(await readFile(path, 'utf8'), 'the data')
  t.equal(await readFile(`${path}.lock`, 'utf8'), '')
})
