// Issue 13, feature store: the real process under a file-size limit (prlimit on its pid, as a full disk would):
// a write that fails is refused and cut back, a fenced journal refuses writes, a failed compaction fails no write;
// after the limit is lifted and the process restarted, every acknowledged write is there and the store opens.
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { readdir, readFile, stat } from 'node:fs/promises'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processFixture, startServer, type ServerProcess } from '../helpers/process.js'
import { tokenOverHttp } from '../helpers/net.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/**
 * Sets the running process's file-size limit (RLIMIT_FSIZE): a write past `bytes` is cut short, the next fails with
 * EFBIG. Only the soft limit: raising a hard limit again takes CAP_SYS_RESOURCE, which a container may not grant.
 */
function limitFileSize (proc: ServerProcess, bytes: number | 'unlimited'): void {
  execFileSync('prlimit', ['--pid', String(proc.child.pid), `--fsize=${bytes}:unlimited`])
}

interface Acked { id: string, name: string }

/** A server of the test's own, a token, and small helpers that speak HTTP to it. */
async function service (t: Test, extra: Record<string, string> = {}) {
  const { client, base, env } = await processFixture(t, { LOG_LEVEL: 'warn', METRICS_TOKEN: 'metrics-token-for-tests', ...extra })
  let proc = startServer(env)
  t.teardown(() => { proc.child.kill('SIGKILL') })
  await proc.ready()
  const auth = { authorization: `Bearer ${await tokenOverHttp(base, client)}` }
  const items = `${base}/features/collections/sites/items`
  const features = join(env.DATA_DIR as string, 'features')
  const acked: Acked[] = []
  let serial = 0
  return {
    features,
    journal: join(features, 'journal.log'),
    snapshot: join(features, 'snapshot.jsonl'),
    acked,
    get proc () { return proc },
    /** POSTs a feature; a 201 is recorded as acknowledged. */
    async post (properties: Record<string, unknown> = {}): Promise<Response> {
      const name = `w${serial++}`
      const res = await fetch(items, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/geo+json' },
        body: JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [serial % 180, 0] }, properties: { name, kind: 'depot', ...properties } })
      })
      if (res.status === 201) acked.push({ id: decodeURIComponent(res.headers.get('location')?.split('/').at(-1) ?? ''), name })
      return res
    },
    async read (id: string): Promise<number> {
      const res = await fetch(`${items}/${encodeURIComponent(id)}`, { headers: auth })
      await res.arrayBuffer()
      return res.status
    },
    async ready (): Promise<{ status: number, retryAfter: string | null, body: { checks?: Record<string, string> } }> {
      const res = await fetch(`${base}/ready`)
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() as { checks?: Record<string, string> } }
    },
    async metric (name: string): Promise<number> {
      const text = await (await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer metrics-token-for-tests' } })).text()
      const line = text.split('\n').find(l => l.startsWith(`${name} `))
      return line === undefined ? 0 : Number(line.split(' ')[1])
    },
    /** Kills the process (no graceful flush), starts it again and checks every acknowledged write answers as written. */
    async restartAndVerify (): Promise<void> {
      proc.child.kill('SIGKILL')
      await proc.exited
      proc = startServer(env)
      await proc.ready().catch((err: Error) => { t.fail(`the store does not open after a restart: ${err.message.slice(0, 2000)}`) })
      t.notMatch(proc.output().stderr + proc.output().stdout, /APP_FEATURES_CORRUPT/, 'the store opens')
      const missing: string[] = []
      for (const a of acked) {
        const res = await fetch(`${items}/${encodeURIComponent(a.id)}`, { headers: auth })
        const body = await res.json() as { properties?: { name?: string } }
        if (res.status !== 200 || body.properties?.name !== a.name) missing.push(`${a.name} (${a.id}): ${res.status}`)
      }
      t.strictSame(missing, [], `all ${acked.length} acknowledged writes are there after the restart`)
    }
  }
}

type Service = Awaited<ReturnType<typeof service>>

/** Expects the RFC 9457 answer of a write the store refused: 503, problem+json, Retry-After. */
async function refused (t: Test, res: Response, what: string): Promise<void> {
  t.equal(res.status, 503, `${what}: 503`)
  t.match(res.headers.get('content-type'), /^application\/problem\+json/, `${what}: problem+json`)
  t.match(res.headers.get('retry-after'), /^\d+$/, `${what}: Retry-After`)
  t.match(await res.json(), { status: 503, title: 'Service Unavailable', detail: /not applied/ })
}

/** Whether the journal holds only whole lines: it ends with a newline (or is empty). */
async function wholeLines (path: string): Promise<boolean> {
  const text = await readFile(path, 'utf8')
  return text === '' || text.endsWith('\n')
}

t.test('a journal append cut short by a file-size limit is refused and cut back; after the limit is lifted every acknowledged write survives a restart', async t => {
  const s = await service(t)
  const start = (await stat(s.journal)).size
  // Room for a few frames (~250 bytes each): one append is then cut short mid-frame, like a disk filling up.
  limitFileSize(s.proc, start + 1000)
  let res: Response | undefined
  let lastGood = start
  for (let i = 0; i < 20; i++) {
    res = await s.post()
    if (res.status !== 201) break
    lastGood = (await stat(s.journal)).size
  }
  t.ok(s.acked.length >= 2, `${s.acked.length} writes acknowledged before the limit`)
  await refused(t, res as Response, 'the write that reached the limit')
  t.equal((await stat(s.journal)).size, lastGood, 'the journal was cut back to exactly its last whole frame')
  await refused(t, await s.post(), 'a write while the limit holds')
  t.equal((await stat(s.journal)).size, lastGood, 'and cut back again')
  t.equal((await s.ready()).status, 200, 'a write that was cut back leaves the store ready')

  limitFileSize(s.proc, 'unlimited')
  for (let i = 0; i < 5; i++) t.equal((await s.post()).status, 201, `write ${i + 1} after the limit is lifted is acknowledged`)
  await s.restartAndVerify()
})

/** Whether this file system lets us make a file append-only (chattr +a: ext4, xfs, btrfs; needs CAP_LINUX_IMMUTABLE). */
function appendOnlySupported (): boolean {
  const probe = join(tmpdir(), `geotoken-chattr-${process.pid}`)
  try {
    writeFileSync(probe, '')
    execFileSync('chattr', ['+a', probe], { stdio: 'ignore' })
    execFileSync('chattr', ['-a', probe], { stdio: 'ignore' })
    return true
  } catch { return false } finally { rmSync(probe, { force: true }) }
}

t.test('when the cut back fails too, every write is refused with 503 and /ready names the feature store, until the cut back succeeds',
  { skip: appendOnlySupported() ? false : 'chattr +a is not supported here: no way to make a truncate fail for real' }, async t => {
  const s = await service(t)
  // An append-only file takes appends but cannot be truncated, even by root: the cut back fails for real.
  execFileSync('chattr', ['+a', s.journal])
  // Undone before the test ends: tap removes its directory before teardowns run, and an append-only file stays.
  const undo = (): void => { try { execFileSync('chattr', ['-a', s.journal], { stdio: 'ignore' }) } catch {} }
  try { await fenced(t, s) } finally { undo() }
  await s.restartAndVerify()
})

async function fenced (t: Test, s: Service): Promise<void> {
  await s.post()
  limitFileSize(s.proc, (await stat(s.journal)).size + 100)
  await refused(t, await s.post(), 'the write cut short by the limit')
  limitFileSize(s.proc, 'unlimited')

  await refused(t, await s.post(), 'a write while the journal is fenced, though there is room again')
  const ready = await s.ready()
  t.equal(ready.status, 503, '/ready is not ready')
  t.match(ready.retryAfter, /^\d+$/, '/ready says when to look again')
  t.equal(ready.body.checks?.features, 'write-fenced', '/ready names the feature store and why')
  t.equal(await s.metric('geotoken_feature_store_write_fenced'), 1, 'the fence is a metric')
  t.equal(await s.metric('geotoken_feature_writes_refused_total{reason="failed"}'), 1, 'the failed write is counted')
  t.equal(await s.metric('geotoken_feature_writes_refused_total{reason="fenced"}'), 1, 'the fenced write is counted')
  t.equal(await s.read(s.acked[0]?.id ?? ''), 200, 'reads are still served')

  execFileSync('chattr', ['-a', s.journal])
  let after = ready
  for (let i = 0; i < 200 && after.status !== 200; i++) { await sleep(100); after = await s.ready() }
  t.equal(after.status, 200, 'the background retry cut the journal back: ready again')
  t.equal(await s.metric('geotoken_feature_store_write_fenced'), 0)
  t.ok(await wholeLines(s.journal), 'the torn bytes are gone')
  t.equal((await s.post()).status, 201, 'writes are accepted again')
}

t.test('a compaction that fails under the limit fails no write: its temp snapshot is removed, the old snapshot kept, and it is retried in the background', async t => {
  const s = await service(t, { FEATURE_JOURNAL_MAX_MB: '1' })
  const blob = (c: string): string => c.repeat(700_000)
  // Two 700 kB features: the journal passes 1 MiB and is compacted into a snapshot of about 1.4 MB.
  t.equal((await s.post({ blob: blob('a') })).status, 201)
  t.equal((await s.post({ blob: blob('b') })).status, 201)
  for (let i = 0; i < 100 && (await stat(s.journal)).size > 0; i++) await sleep(50)
  t.equal((await stat(s.journal)).size, 0, 'compacted')
  const snapshot = await readFile(s.snapshot)

  // Room for the journal to pass 1 MiB again, not for a snapshot of four such features.
  limitFileSize(s.proc, 1_500_000)
  t.equal((await s.post({ blob: blob('c') })).status, 201)
  const triggered = Date.now()
  t.equal((await s.post({ blob: blob('d') })).status, 201, 'the write whose compaction fails is acknowledged')
  for (let i = 0; i < 100 && await s.metric('geotoken_feature_compaction_failures_total') === 0; i++) await sleep(50)
  t.equal(await s.metric('geotoken_feature_compaction_failures_total'), 1, 'the failed compaction is counted')
  t.same((await readdir(s.features)).filter(f => f.endsWith('.tmp')), [], 'no temp snapshot is left')
  t.same(await readFile(s.snapshot), snapshot, 'the old snapshot is intact')
  t.equal((await s.post()).status, 201, 'a later write is acknowledged')
  // The back-off retries 1 s and 3 s after the failure; the write itself must add no attempt.
  // Counted first, the time after: a retry that falls due in between is allowed for, never missed.
  const counted = await s.metric('geotoken_feature_compaction_failures_total')
  const retriesDue = [1000, 3000].filter(ms => ms <= Date.now() - triggered).length
  t.ok(counted <= 1 + retriesDue, 'the write did not retry the compaction')

  // Retried after 1 s and 2 s: the third failure in a row makes /ready say so.
  let ready = await s.ready()
  for (let i = 0; i < 100 && ready.status === 200; i++) { await sleep(100); ready = await s.ready() }
  t.equal(ready.status, 503, '/ready reports a compaction that keeps failing')
  t.equal(ready.body.checks?.features, 'compaction-failing')
  t.ok(await s.metric('geotoken_feature_compaction_failures_total') >= 3, 'each retry is counted')
  t.equal((await s.post()).status, 201, 'writes are still accepted')

  limitFileSize(s.proc, 'unlimited')
  for (let i = 0; i < 150 && ready.status !== 200; i++) { await sleep(100); ready = await s.ready() }
  t.equal(ready.status, 200, 'the next retry succeeds: ready again')
  t.equal((await stat(s.journal)).size, 0, 'the journal was compacted')
  await s.restartAndVerify()
})
