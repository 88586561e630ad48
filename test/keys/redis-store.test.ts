// Issue 16: the key ring in Redis, sealed with the KEK; compare-and-set writes; the migration from keys/ and clients.json.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import { migrateToRedis } from '../../scripts/migrate-to-redis.js'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { serializeRing, type KeyRing } from '../../src/keys/keyring.js'
import { redisRingSource, RING_KEY } from '../../src/keys/redis-ring.js'
import { decodeKek } from '../../src/keys/kek.js'
import { loadRing, saveRing } from '../../src/keys/store.js'
import { rotate } from '../../src/keys/rotation.js'
import { newRingKey } from '../../src/keys/generate.js'
import { redisClientSource, CLIENTS_KEY } from '../../src/clients/redis-clients.js'
import { serializeClients } from '../../src/clients/registry.js'
import { basic, clientsFixture, form, testRing } from '../helpers/app.js'
import { newKek, redisClient, redisInstance, startRedis } from '../helpers/redis.js'

const redis = await startRedis(t, { appendfsync: 'everysec' })
const kek = newKek()
const env = { STATE_STORE: 'redis', REDIS_URL: redis.url, KEY_ENCRYPTION_KEY: kek }
const quiet = { info () {}, warn () {}, error () {} }

function io () {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), now: Date.now } }
}

/** The JWK members of each key, as a verifier or an attacker reading Redis would look for them. */
function keyMaterial (ring: KeyRing): string[] {
  return ring.keys.flatMap(k => {
    const { n, d, p, q } = k.privateKey.export({ format: 'jwk' })
    return [n, d, p, q] as string[]
  })
}

const raw = redisClient(t, redis)
const source = (k: string) => redisRingSource(raw, decodeKek(k, 'KEY_ENCRYPTION_KEY'), quiet)

t.test('the key ring and the registry migrate from files into Redis, and a second run changes nothing', async t => {
  const ring = await testRing()
  const { file, clients } = clientsFixture([{ org: 'acme', scopes: ['features:read'] }])
  const dir = t.testdir({ keys: { 'keyring.json': serializeRing(ring) }, data: { 'clients.json': serializeClients(file) } })
  const menv = { ...env, KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data') }

  const dry = io()
  t.equal(await migrateToRedis(['--dry-run'], menv, dry.io), 0)
  t.match(dry.out.join('\n'), /dry run: would copy/)
  t.equal(await raw.exists(RING_KEY), 0, 'a dry run writes nothing')

  const first = io()
  t.equal(await migrateToRedis([], menv, first.io), 0, first.err.join('\n'))
  t.match(first.out.join('\n'), /key ring: copied .*keyring\.json to redis geotoken:keyring/)
  t.match(first.out.join('\n'), /clients: copied .*clients\.json to redis geotoken:clients \(1 clients, 1 organizations\)/)

  const again = io()
  t.equal(await migrateToRedis([], menv, again.io), 0)
  t.match(again.out.join('\n'), /key ring: redis geotoken:keyring already holds the same content/)
  t.match(again.out.join('\n'), /clients: redis geotoken:clients already holds the same content/)
  t.equal(await raw.hget(RING_KEY, 'revision'), '1', 'the second run wrote nothing')

  t.test('the stored ring holds no key material in clear: no PEM, no JWK member of any key', async t => {
    const body = await raw.hget(RING_KEY, 'body') as string
    t.notMatch(body, /PRIVATE KEY|BEGIN/)
    t.notMatch(body, /"(d|p|q|dp|dq|qi|n)"\s*:/, 'no JWK member names')
    for (const value of keyMaterial(ring)) t.notOk(body.includes(value.slice(0, 32)), 'no key value')
    t.match(JSON.parse(body), { version: 1, keys: ring.keys.map(k => ({ kid: k.kid, state: k.state, sealed: { alg: 'A256GCM' } })) })
  })

  t.test('an instance on Redis serves the migrated keys and clients', async t => {
    const { app } = await redisInstance(t, redis, env)
    t.same(app.keys.view.ring.keys.map(k => k.kid), ring.keys.map(k => k.kid))
    const client = clients[0] as { id: string, secret: string }
    const res = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(client.id, client.secret) }, payload: 'grant_type=client_credentials' })
    t.equal(res.statusCode, 200)
  })

  t.test('a different ring in Redis is refused unless --force', async t => {
    const rotated = rotate(ring, await newRingKey(2048, Date.now()), Date.now(), { minPublishMs: 0, retentionMs: 3600_000 })
    if ('refused' in rotated) throw new Error(rotated.refused)
    await saveRing(join(dir, 'keys'), rotated.ring)
    const refused = io()
    t.equal(await migrateToRedis([], menv, refused.io), 1)
    t.match(refused.out.join('\n'), /key ring: REFUSED: redis geotoken:keyring holds different content/)
    t.match(refused.err.join('\n'), /--force replaces it/)
    t.equal(await raw.hget(RING_KEY, 'revision'), '1', 'nothing was replaced')
    const forced = io()
    t.equal(await migrateToRedis(['--force'], menv, forced.io), 0)
    t.match(forced.out.join('\n'), /replaced the content of redis geotoken:keyring/)
    const source = redisRingSource(raw, decodeKek(kek, 'KEY_ENCRYPTION_KEY'), quiet)
    t.equal(serializeRing(await source.load() as KeyRing), serializeRing(await loadRing(join(dir, 'keys')) as KeyRing), 'Redis now holds the file\'s ring')
  })
})

t.test('a wrong key-encryption key refuses to start, and names the setting', async t => {
  // One test directory (each t.testdir() call makes it afresh): the KEK files, and a DATA_DIR for the feature store.
  const dir = t.testdir({ 'kek.txt': 'not a key\n', data: {} })
  const base = { KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data'), SEED_FILE: '', LOG_LEVEL: 'silent' }
  const config = loadConfig({ ...env, ...base, KEY_ENCRYPTION_KEY: newKek() })
  const err = await buildApp(config).then(() => undefined, (e: unknown) => e as { code?: string, message: string })
  t.equal(err?.code, 'APP_KEK_MISMATCH')
  t.match(err?.message, /set KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE to the KEK the key ring was stored with/)
  t.notMatch(err?.message, config.KEY_ENCRYPTION_KEY, 'the key itself is never in the message')

  t.throws(() => loadConfig({ STATE_STORE: 'redis', REDIS_URL: redis.url }), { code: 'APP_CONFIG_INVALID', message: /needs a key-encryption key: KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE/ })
  t.throws(() => loadConfig({ ...env, KEY_ENCRYPTION_KEY: 'c2hvcnQ=' }), { code: 'APP_CONFIG_INVALID', message: 'KEY_ENCRYPTION_KEY=(hidden) is not accepted' })

  for (const [file, why] of [[join(dir, 'missing'), /KEY_ENCRYPTION_KEY_FILE=.*missing cannot be read \(ENOENT\)/], [join(dir, 'kek.txt'), /KEY_ENCRYPTION_KEY_FILE=.*kek\.txt must hold 32 random bytes in base64/]] as const) {
    const fromFile = loadConfig({ STATE_STORE: 'redis', REDIS_URL: redis.url, KEY_ENCRYPTION_KEY_FILE: file, ...base })
    const e = await buildApp(fromFile).then(() => undefined, (x: unknown) => x as { code?: string, message: string })
    t.equal(e?.code, 'APP_KEK_INVALID')
    t.match(e?.message, why)
  }
  await writeFile(join(dir, 'kek.txt'), `${kek}\n`, { mode: 0o600 })
  const good = await buildApp(loadConfig({ STATE_STORE: 'redis', REDIS_URL: redis.url, KEY_ENCRYPTION_KEY_FILE: join(dir, 'kek.txt'), ...base }))
  t.teardown(() => good.close())
  t.ok(good.keys.view.signing.kid, 'the right KEK from a file opens the ring')
})

t.test('two read-modify-writes of one revision: exactly one is stored, the other throws APP_STORE_CONFLICT', async t => {
  const source = redisRingSource(raw, decodeKek(kek, 'KEY_ENCRYPTION_KEY'), quiet)
  const before = await raw.hget(RING_KEY, 'revision')
  // Both read before either writes: the barrier holds each writer until both have seen the ring.
  let arrived = 0
  let release: () => void = () => {}
  const barrier = new Promise<void>(resolve => { release = resolve })
  const fresh = await Promise.all([newRingKey(2048, Date.now()), newRingKey(2048, Date.now())])
  const attempts = fresh.map(async key => await source.update(async ring => {
    if (++arrived === 2) release()
    await barrier
    const result = rotate(ring as KeyRing, key, Date.now(), { minPublishMs: 0, retentionMs: 3600_000 })
    if ('refused' in result) throw new Error(result.refused)
    return { ring: result.ring, result: key.kid }
  }))
  const settled = await Promise.allSettled(attempts)
  t.equal(settled.filter(s => s.status === 'fulfilled').length, 1, 'one wins')
  const lost = settled.find(s => s.status === 'rejected')
  t.match(lost?.status === 'rejected' ? lost.reason : undefined, { code: 'APP_STORE_CONFLICT' })
  t.equal(Number(await raw.hget(RING_KEY, 'revision')), Number(before) + 1, 'one write')
  const winner = settled.find(s => s.status === 'fulfilled')
  const stored = await source.load() as KeyRing
  t.equal(stored.keys.find(k => k.state === 'next')?.kid, winner?.status === 'fulfilled' ? winner.value : undefined, 'the stored next key is the winner\'s')
})

t.test('two rotate-keys at once: exactly one rotation applies', async t => {
  const source = redisRingSource(raw, decodeKek(kek, 'KEY_ENCRYPTION_KEY'), quiet)
  // A ring whose next key was published an hour ago, so one rotation is allowed and the next is not.
  await source.update(async () => ({ ring: await testRing(), result: null }))
  const runs = [io(), io()]
  const codes = await Promise.all(runs.map(async r => await rotateKeys([], env, r.io)))
  t.same(codes.slice().sort(), [0, 1], `exit codes ${codes.join(', ')}`)
  const loser = runs[codes.indexOf(1)]
  t.match(loser?.err.join('\n'), /APP_STORE_CONFLICT|refused: next key/, 'the other wrote nothing, and says why')
  const stored = await source.load() as KeyRing
  const original = await testRing()
  t.same(stored.keys.filter(k => k.state !== 'next').map(k => [k.kid, k.state]), [[original.keys[0]?.kid, 'retired'], [original.keys[1]?.kid, 'current']])
  t.equal(stored.keys.filter(k => k.state === 'next').length, 1, 'one new next key')
})

t.test('add-client at once from several commands: every client is kept', async t => {
  const { clientsCli } = await import('../../scripts/clients.js')
  const before = JSON.parse(await raw.hget(CLIENTS_KEY, 'body') as string) as { clients: unknown[] }
  const codes = await Promise.all([0, 1, 2, 3].map(async i => await clientsCli(['add', '--org', `many${i}`, '--scopes', 'features:read'], env, { out: () => {}, err: () => {}, now: () => new Date() })))
  t.same(codes, [0, 0, 0, 0])
  const after = await redisClientSource(raw, quiet).load()
  t.equal(after?.clients.length, before.clients.length + 4)
})

t.test('the client commands list and disable clients in Redis', async t => {
  const { clientsCli } = await import('../../scripts/clients.js')
  const listed: string[] = []
  t.equal(await clientsCli(['list', '--json'], env, { out: l => listed.push(l), err: () => {}, now: () => new Date() }), 0)
  const first = (JSON.parse(listed.join('')) as Array<{ client_id: string }>)[0]?.client_id as string
  t.equal(await clientsCli(['disable', first], env, { out: () => {}, err: () => {}, now: () => new Date() }), 0)
  t.ok((await redisClientSource(raw, quiet).load())?.clients.find(c => c.client_id === first)?.disabled_at, 'disabled in Redis')
})


t.test('a KEK rotation: instances given NEW,OLD open the old ring, --reseal seals it with NEW, then OLD can go', async t => {
  const fresh = newKek()
  const both = { ...env, KEY_ENCRYPTION_KEY: `${fresh},${kek}` }
  const idOf = (k: string): string => decodeKek(k, 'KEY_ENCRYPTION_KEY').id
  const sealedBy = async (): Promise<string[]> => [...new Set((JSON.parse(await raw.hget(RING_KEY, 'body') as string) as { keys: Array<{ sealed: { kek: string } }> }).keys.map(k => k.sealed.kek))]
  t.same(await sealedBy(), [idOf(kek)], 'sealed with the old KEK so far')

  const during = await redisInstance(t, redis, both)
  t.equal((await during.app.inject({ url: '/ready' })).json().checks.keys, 'ok', 'an instance with NEW,OLD opens the ring')
  const kids = during.app.keys.view.ring.keys.map(k => k.kid)

  const dry = io()
  t.equal(await rotateKeys(['--reseal', '--dry-run'], both, dry.io), 0)
  t.same(await sealedBy(), [idOf(kek)], 'a dry run reseals nothing')
  const done = io()
  t.equal(await rotateKeys(['--reseal'], both, done.io), 0, done.err.join('\n'))
  t.match(done.out.join('\n'), /resealed \d+ keys in redis geotoken:keyring with the current KEK; the ring is unchanged/)
  t.same(await sealedBy(), [idOf(fresh)], 'every key is sealed with the new KEK')
  t.same((await source(fresh).load())?.keys.map(k => k.kid), kids, 'the same keys')
  await sleep(100)
  t.equal((await during.app.inject({ url: '/ready' })).json().checks.keys, 'ok', 'the running instance reads the resealed ring')

  const after = await redisInstance(t, redis, { ...env, KEY_ENCRYPTION_KEY: fresh })
  t.same(after.app.keys.view.ring.keys.map(k => k.kid), kids, 'the new KEK alone opens it')
  const config = loadConfig({ ...env, KEYS_DIR: join(t.testdir(), 'keys'), SEED_FILE: '', LOG_LEVEL: 'silent' })
  await t.rejects(buildApp(config), { code: 'APP_KEK_MISMATCH' }, 'the old KEK alone no longer does')
  const file = io()
  t.equal(await rotateKeys(['--reseal'], { KEYS_DIR: t.testdir() }, file.io), 2, '--reseal is for Redis only')
})
