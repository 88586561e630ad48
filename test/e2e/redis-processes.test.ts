// Issue 16, keys and clients without a shared filesystem, with real processes: two servers that share only Redis
// (no KEYS_DIR, DATA_DIR of their own), administered with the same commands an operator runs.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { clientsCli } from '../../scripts/clients.js'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import { basic, form } from '../helpers/app.js'
import { freePort } from '../helpers/net.js'
import { startServer, type ServerProcess } from '../helpers/process.js'
import { newKek, startRedis } from '../helpers/redis.js'

const redis = await startRedis(t)
const dir = t.testdir({ one: {}, two: {} })
const kekFile = join(dir, 'kek')
writeFileSync(kekFile, `${newKek()}\n`, { mode: 0o600 })
const shared = { STATE_STORE: 'redis', REDIS_URL: redis.url, KEY_ENCRYPTION_KEY_FILE: kekFile, SEED_FILE: '', LOG_LEVEL: 'warn', ISSUER: '', AUDIENCE: '' }

async function server (name: string): Promise<{ proc: ServerProcess, base: string }> {
  const port = await freePort()
  const proc = startServer({ ...shared, PORT: String(port), HOST: '127.0.0.1', KEYS_DIR: join(dir, name, 'keys'), DATA_DIR: join(dir, name, 'data') })
  t.teardown(async () => { proc.child.kill('SIGTERM'); await proc.exited })
  await proc.ready()
  return { proc, base: `http://127.0.0.1:${port}` }
}

// One after the other: the second finds the ring the first generated in Redis.
const one = await server('one')
const two = await server('two')
const jwks = async (base: string): Promise<string[]> =>
  ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map(k => k.kid).sort()

t.test('both processes publish the one ring in Redis', async t => {
  t.same(await jwks(one.base), await jwks(two.base))
  t.equal((await jwks(one.base)).length, 2)
})

t.test('add-client, then at once a token from the other process', async t => {
  const out: string[] = []
  t.equal(await clientsCli(['add', '--org', 'acme', '--scopes', 'features:read', '--json'], shared, { out: l => out.push(l), err: () => {}, now: () => new Date() }), 0)
  const { client_id: id, client_secret: secret } = JSON.parse(out.join('')) as { client_id: string, client_secret: string }
  const res = await fetch(`${two.base}/oauth/token`, { method: 'POST', headers: { ...form, ...basic(id, secret) }, body: 'grant_type=client_credentials' })
  t.equal(res.status, 200)
})

t.test('rotate-keys: both processes publish the new ring within 1 s', async t => {
  const before = await jwks(one.base)
  t.equal(await rotateKeys(['--force'], shared, { out: () => {}, err: () => {}, now: Date.now }), 0)
  const rotated = performance.now()
  const seen = await Promise.all([one.base, two.base].map(async base => {
    while ((await jwks(base)).length === before.length && performance.now() - rotated < 5000) await sleep(10)
    return performance.now() - rotated
  }))
  for (const ms of seen) t.ok(ms < 1000, `published after ${ms.toFixed(0)} ms`)
  t.same(await jwks(one.base), await jwks(two.base))
  t.equal((await jwks(two.base)).length, 3, 'the retired key, the new current and a new next')
})
