import t from 'tap'
import { fork } from 'node:child_process'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KeyStore, loadRing, saveRing, RING_FILE } from '../../src/keys/store.js'
import { newRingKey } from '../../src/keys/generate.js'
import { rotate } from '../../src/keys/rotation.js'
import { serializeRing } from '../../src/keys/keyring.js'
import { testRing } from '../helpers/app.js'

const quiet = { info () {}, warn () {}, error () {} }
const options = (dir: string) => ({ dir, keySize: 2048, retentionMs: 60_000, pollMs: 50, clock: Date.now, log: quiet })

t.test('first start in an empty directory generates a current and a next key, mode 0600', async t => {
  const dir = join(t.testdir(), 'keys')
  const store = await KeyStore.open(options(dir))
  t.teardown(() => { store.stop() })
  t.same(store.view.ring.keys.map(k => k.state), ['current', 'next'])
  t.equal((await stat(join(dir, RING_FILE))).mode & 0o777, 0o600)
  t.same((await readdir(dir)).filter(f => f !== RING_FILE), [`${RING_FILE}.lock`], 'no temp file left behind; the lock file stays, empty')
  t.equal(await readFile(join(dir, `${RING_FILE}.lock`), 'utf8'), '')
})

t.test('stores opening an empty directory at once agree on one generated ring', async t => {
  const dir = join(t.testdir(), 'keys')
  const stores = await Promise.all([0, 1, 2].map(async () => await KeyStore.open(options(dir))))
  t.teardown(() => { for (const s of stores) s.stop() })
  const onDisk = await loadRing(dir)
  t.same(stores.map(s => s.view.signing.kid), stores.map(() => onDisk?.keys[0]?.kid), 'every store signs with the one current key on disk')
})

t.test('a corrupt key ring stops start-up and is never overwritten', async t => {
  const dir = t.testdir({ [RING_FILE]: '{"version":1,"keys":[' })
  await t.rejects(KeyStore.open(options(dir)), { code: 'APP_KEYS_CORRUPT' })
  t.equal(await readFile(join(dir, RING_FILE), 'utf8'), '{"version":1,"keys":[')
})

t.test('an unreadable key ring stops start-up', async t => {
  const dir = t.testdir({ [RING_FILE]: { 'not-a-file': 'x' } })
  await t.rejects(KeyStore.open(options(dir)), { code: 'APP_KEYS_CORRUPT' })
})

t.test('a changed ring file is picked up by polling, and a bad one keeps the last good ring', async t => {
  const dir = t.testdir({ [RING_FILE]: serializeRing(await testRing()) })
  const store = await KeyStore.open(options(dir))
  t.teardown(() => { store.stop() })
  const before = store.view.signing.kid
  const result = rotate(store.view.ring, await newRingKey(2048, Date.now()), Date.now(), { minPublishMs: 0, retentionMs: 60_000 })
  if ('refused' in result) throw new Error(result.refused)
  const changed = new Promise(resolve => { store.onChange(resolve) })
  const keepAlive = setInterval(() => {}, 1000) // the store's poll timer is unref'd, as in the service
  await saveRing(dir, result.ring)
  await changed
  clearInterval(keepAlive)
  t.not(store.view.signing.kid, before, 'the promoted key signs now')
  t.ok(store.publicKey(before), 'the retired key still verifies')
  await writeFile(join(dir, RING_FILE), 'garbage')
  t.equal(await store.reload(), false)
  t.equal(store.view.signing.kid, result.ring.keys[1]?.kid, 'still the last good ring')
})

t.test('killing a writer at random moments never leaves a half-written ring', async t => {
  const dir = t.testdir({ [RING_FILE]: serializeRing(await testRing()) })
  for (let round = 0; round < 8; round++) {
    const child = fork(new URL('../helpers/ring-writer.ts', import.meta.url), [dir], { execArgv: ['--import', 'tsx'], stdio: 'ignore' })
    await new Promise(resolve => child.once('message', resolve))
    await new Promise(resolve => setTimeout(resolve, 20 + Math.random() * 80))
    child.kill('SIGKILL')
    await new Promise(resolve => child.once('exit', resolve))
    const ring = await loadRing(dir)
    t.equal(ring?.keys.length, 2, `round ${round}: the ring parses and is whole`)
  }
})
