import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import { loadRing } from '../../src/keys/store.js'
import { serializeRing } from '../../src/keys/keyring.js'
import { testRing } from '../helpers/app.js'
import { holdLock } from '../helpers/lock-worker.js'
import { LOCK_TIMEOUT_MS } from '../../src/shared/file-lock.js'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

async function run (argv: string[], env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const code = await rotateKeys(argv, env, { out: l => out.push(l), err: l => err.push(l), now: Date.now })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

t.test('rotate-keys promotes next, prints the table, and the old key stays published', async t => {
  const ring = await testRing()
  const dir = t.testdir({ 'keyring.json': serializeRing(ring) })
  const { code, out } = await run([], { KEYS_DIR: dir })
  t.equal(code, 0)
  const after = await loadRing(dir)
  t.same(after?.keys.map(k => [k.kid, k.state]).slice(0, 2), [[ring.keys[0]?.kid, 'retired'], [ring.keys[1]?.kid, 'current']])
  t.equal(after?.keys[2]?.state, 'next')
  t.match(out, /kid\s+state\s+published/)
  t.match(out, new RegExp(`${ring.keys[1]?.kid}\\s+current`))
})

t.test('rotate-keys refuses a next key too new for remote caches; --force overrides with a warning', async t => {
  const dir = t.testdir()
  t.equal((await run([], { KEYS_DIR: dir })).code, 1, 'no ring yet is an error')
  const { KeyStore } = await import('../../src/keys/store.js')
  const store = await KeyStore.open({ dir, keySize: 2048, retentionMs: 1, pollMs: 1000, clock: Date.now, log: { info () {}, warn () {}, error () {} } })
  store.stop()
  const refused = await run([], { KEYS_DIR: dir })
  t.equal(refused.code, 1)
  t.match(refused.err, /refused: next key .* published for \d+ s/)
  const ring = await loadRing(dir)
  t.match(refused.out, /kid\s+state\s+published/, 'the table is printed even when refused')
  t.match(refused.out, new RegExp(`${ring?.keys[0]?.kid}\\s+current`))
  // JWKS_MAX_AGE_S 300 + CLOCK_TOLERANCE_S 30 + 2 × RELOAD_INTERVAL_MS 1 s after the next key was published.
  const allowed = new Date((ring?.keys.find(k => k.state === 'next')?.createdAt ?? 0) + 332_000).toISOString()
  t.match(refused.err, `allowed from ${allowed} (in `, 'and when the rotation will be allowed')
  t.match(refused.err, /JWKS_MAX_AGE_S \(300 s\) \+ CLOCK_TOLERANCE_S \(30 s\)/, 'and why')
  const dry = await run(['--dry-run'], { KEYS_DIR: dir })
  t.equal(dry.code, 1, 'a dry run of a refused rotation says so with its exit code')
  t.match(dry.err, /refused \(dry run\)/)
  t.match(dry.out, /kid\s+state\s+published/, 'and prints the table too')
  const forced = await run(['--force'], { KEYS_DIR: dir })
  t.equal(forced.code, 0)
  t.match(forced.err, /WARNING \(--force\)/)
})

t.test('--dry-run changes nothing', async t => {
  const dir = t.testdir({ 'keyring.json': serializeRing(await testRing()) })
  const before = await loadRing(dir)
  const { code, out } = await run(['--dry-run'], { KEYS_DIR: dir })
  t.equal(code, 0)
  t.match(out, /dry run/)
  t.same((await loadRing(dir))?.keys.map(k => k.state), before?.keys.map(k => k.state))
})

t.test('--emergency removes the key; an unknown kid and bad options are errors', async t => {
  const ring = await testRing()
  const dir = t.testdir({ 'keyring.json': serializeRing(ring) })
  const victim = ring.keys[0]?.kid as string
  const { code, err } = await run(['--emergency', victim], { KEYS_DIR: dir })
  t.equal(code, 0)
  t.match(err, /EMERGENCY/)
  t.notOk((await loadRing(dir))?.keys.some(k => k.kid === victim))
  t.equal((await run(['--emergency', 'nope'], { KEYS_DIR: dir })).code, 1)
  // One kid in 64 starts with "-" (base64url): it is still the value of --emergency, not an unknown option.
  const dashed = await run(['--emergency', '-nope'], { KEYS_DIR: dir })
  t.equal(dashed.code, 1)
  t.match(dashed.err, /no key with kid -nope/)
  t.equal((await run(['--emergency=-nope'], { KEYS_DIR: dir })).code, 1, 'the --emergency=KID form too')
  t.equal((await run(['--bogus'], { KEYS_DIR: dir })).code, 2)
})

t.test('the script runs as a process with a non-zero exit on refusal', async t => {
  const dir = t.testdir({ 'keyring.json': serializeRing(await testRing()) })
  const script = new URL('../../scripts/rotate-keys.ts', import.meta.url).pathname
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--dry-run'], { env: { ...process.env, KEYS_DIR: dir } })
  t.match(stdout, /dry run/)
  await t.rejects(promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--emergency', 'nope'], { env: { ...process.env, KEYS_DIR: dir } }), { code: 1 })
})

const script = new URL('../../scripts/rotate-keys.ts', import.meta.url).pathname
const runProcess = async (argv: string[], env: Record<string, string>) =>
  await promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...argv], { env: { ...process.env, ...env } })
    .then(r => ({ code: 0, ...r }), (err: { code: number, stdout: string, stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }))

t.test('rotate-keys is not blocked by a lock file left empty, or naming a live process that does not hold it', async t => {
  const dir = t.testdir({ 'keyring.json': serializeRing(await testRing()), 'keyring.json.lock': '' })
  t.equal((await run(['--force'], { KEYS_DIR: dir })).code, 0, 'an empty lock file (a holder killed before it wrote)')
  await writeFile(join(dir, 'keyring.json.lock'), String(process.pid))
  t.equal((await run(['--force'], { KEYS_DIR: dir })).code, 0, 'a lock file naming this live, unrelated process')
  t.equal((await loadRing(dir))?.keys.length, 4, 'both rotations happened')
})

t.test('concurrent rotate-keys processes each rotate once on top of the other: no rotation is lost', async t => {
  const ring = await testRing()
  const dir = t.testdir({ 'keyring.json': serializeRing(ring) })
  const runs = await Promise.all([0, 1, 2, 3].map(async () => await runProcess(['--force'], { KEYS_DIR: dir })))
  t.same(runs.map(r => r.code), [0, 0, 0, 0])
  const after = await loadRing(dir)
  t.equal(after?.keys.length, 6, 'the two keys plus one new key per rotation')
  t.same(after?.keys.map(k => k.state), ['retired', 'retired', 'retired', 'retired', 'current', 'next'])
})

t.test('rotate-keys waits for a process holding the lock, then exits 1 with APP_STORE_LOCKED naming it', async t => {
  const dir = t.testdir({ 'keyring.json': serializeRing(await testRing()) })
  const holder = await holdLock(t, join(dir, 'keyring.json'))
  const started = performance.now()
  const result = await runProcess(['--force'], { KEYS_DIR: dir })
  t.equal(result.code, 1, result.stderr)
  t.match(result.stderr, new RegExp(`rotate-keys: APP_STORE_LOCKED .*keyring\\.json is locked by another process \\(pid ${String(holder.child.pid)} on `))
  t.ok(performance.now() - started >= LOCK_TIMEOUT_MS, 'after waiting the lock timeout')
  await holder.kill()
  t.equal((await runProcess(['--force'], { KEYS_DIR: dir })).code, 0, 'the holder killed, the next rotation runs')
})
