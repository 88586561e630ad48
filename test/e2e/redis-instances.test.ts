// Issue 16, "keys and clients without a shared filesystem": instances that share only a real redis-server.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { clientsCli } from '../../scripts/clients.js'
import { rotateKeys } from '../../scripts/rotate-keys.js'
import { addClient, serializeClients } from '../../src/clients/registry.js'
import { parseClients } from '../../src/clients/registry.js'
import { CLIENTS_KEY } from '../../src/clients/redis-clients.js'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { basic, form } from '../helpers/app.js'
import { freePort } from '../helpers/net.js'
import { newKek, redisClient, redisInstance, startRedis } from '../helpers/redis.js'

const redis = await startRedis(t, { appendfsync: 'everysec' })
const kek = newKek()
const env = { STATE_STORE: 'redis', REDIS_URL: redis.url, KEY_ENCRYPTION_KEY: kek, DATA_DIR: '/nonexistent/geotoken-test' }
const quiet = { out: () => {}, err: () => {} }

async function addClientCli (org: string): Promise<{ client_id: string, client_secret: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await clientsCli(['add', '--org', org, '--scopes', 'features:read', '--json'], env, { out: l => out.push(l), err: l => err.push(l), now: () => new Date() })
  if (code !== 0) throw new Error(`add-client exited ${code}: ${err.join('\n')}`)
  return JSON.parse(out.join('')) as { client_id: string, client_secret: string }
}

async function token (app: FastifyInstance, client: { client_id: string, client_secret: string }): Promise<{ status: number, token?: string, body: string, retryAfter?: string }> {
  const res = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(client.client_id, client.client_secret) }, payload: 'grant_type=client_credentials' })
  return { status: res.statusCode, body: res.body, retryAfter: res.headers['retry-after'] as string | undefined, ...(res.statusCode === 200 ? { token: (res.json() as { access_token: string }).access_token } : {}) }
}

const kidOf = (jwt: string): string => (JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString()) as { kid: string }).kid

// The commands get a DATA_DIR that does not exist (they must not need one); each instance gets its own, where only
// its embedded feature store lives (one writer per directory).
const { DATA_DIR: _commandsOnly, ...instanceEnv } = env
const a = await redisInstance(t, redis, instanceEnv)
const b = await redisInstance(t, redis, instanceEnv)

t.test('two instances started on an empty Redis share one key ring', async t => {
  t.equal(a.app.keys.view.signing.kid, b.app.keys.view.signing.kid)
  t.same(a.app.keys.view.jwks.body, b.app.keys.view.jwks.body)
})

t.test('a client added with add-client gets a token from another instance as soon as the command returns', async t => {
  for (let i = 0; i < 5; i++) {
    const client = await addClientCli(`org${i}`)
    const issued = await token(i % 2 === 0 ? a.app : b.app, client)
    t.equal(issued.status, 200, `client ${i}${issued.status === 200 ? '' : `: ${issued.body}`}`)
  }
})

t.test('a client written to Redis without an announcement is found by the look-up of an unknown client id', async t => {
  // The announcement is what normally gets there first; here none is sent, so only the look-up on a miss can succeed.
  const raw = redisClient(t, redis)
  const [revision, body] = await raw.hmget(CLIENTS_KEY, 'revision', 'body')
  const added = addClient(parseClients(body as string), { org: 'silent', scopes: ['features:read'], now: new Date() })
  await raw.hset(CLIENTS_KEY, 'revision', Number(revision) + 1, 'body', serializeClients(added.file))
  t.equal(a.app.clients.directory.get(added.client.client_id), undefined, 'instance a has not heard of it')
  const issued = await token(a.app, { client_id: added.client.client_id, client_secret: added.secret })
  t.equal(issued.status, 200, issued.status === 200 ? 'a gets a token for it' : issued.body)
  const unknown = await token(b.app, { client_id: 'nobody-0000', client_secret: 'x' })
  t.equal(unknown.status, 401, 'an id that is in no store is still refused as invalid_client')
})

t.test('a rotation with rotate-keys is seen by every instance within 1 s, and tokens of either key verify on both', async t => {
  const client = await addClientCli('rotor')
  const before = (await token(a.app, client)).token as string
  const nextKid = a.app.keys.view.ring.keys.find(k => k.state === 'next')?.kid
  const code = await rotateKeys(['--force'], env, { ...quiet, now: Date.now })
  t.equal(code, 0)
  const rotatedAt = performance.now()
  const seen = await Promise.all([a.app, b.app].map(async app => {
    while (app.keys.view.signing.kid !== nextKid && performance.now() - rotatedAt < 5000) await sleep(5)
    return performance.now() - rotatedAt
  }))
  for (const ms of seen) t.ok(ms < 1000, `seen after ${ms.toFixed(1)} ms`)
  const after = (await token(b.app, client)).token as string
  t.equal(kidOf(after), nextKid, 'b signs with the new current key')
  for (const app of [a.app, b.app]) {
    for (const jwt of [before, after]) {
      const res = await app.inject({ url: '/features/conformance', headers: { authorization: `Bearer ${jwt}` } })
      t.equal(res.statusCode, 200, `${kidOf(jwt)} verifies`)
    }
  }
})

t.test('Redis down at start: the instance refuses to start, naming REDIS_URL without its password', async t => {
  const port = await freePort()
  const config = loadConfig({ ...env, REDIS_URL: `redis://:s3cret-pw@127.0.0.1:${port}/0`, KEYS_DIR: t.testdir(), SEED_FILE: '', LOG_LEVEL: 'silent' })
  const started = performance.now()
  const err = await buildApp(config).then(() => undefined, (e: unknown) => e as { code?: string, message: string })
  t.equal(err?.code, 'APP_REDIS_UNAVAILABLE')
  t.match(err?.message, `127.0.0.1:${port}`)
  t.match(err?.message, 'REDIS_URL')
  t.match(err?.message, 'ECONNREFUSED', 'and why')
  t.notMatch(err?.message, 's3cret-pw')
  t.ok(performance.now() - started < 5000, 'and says so at once')
})

t.test('Redis down later: the ring and clients in memory keep serving, /ready says degraded, and recovery is automatic', async t => {
  const client = await addClientCli('outage')
  const issued = await token(a.app, client)
  t.equal((await a.app.inject({ url: '/ready' })).statusCode, 200)
  await redis.stop()
  // The subscription notices the closed connection at once; give the event loop a moment.
  await sleep(200)
  for (const app of [a.app, b.app]) {
    const res = await app.inject({ url: '/features/conformance', headers: { authorization: `Bearer ${issued.token as string}` } })
    t.equal(res.statusCode, 200, 'a token verifies on every instance with the ring in memory')
  }
  t.ok(a.app.keys.view.signing.privateKey, 'the ring in memory still holds its signing key')
  // Issuing needs the shared token state (rate limits) too: that part answers 503 (docs/redis.md).
  t.equal((await token(a.app, client)).status, 503, 'the token endpoint answers 503 temporarily_unavailable, not 500')
  const unknown = await token(a.app, { client_id: 'late-0000', client_secret: 'x' })
  t.equal(unknown.status, 503, 'an unknown client cannot be looked up: 503, not 401 or 500')
  t.equal((JSON.parse(unknown.body) as { error: string }).error, 'temporarily_unavailable')
  t.match(unknown.retryAfter, /^[1-9]\d*$/, 'with Retry-After')
  const ready = await a.app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 200, 'still routable: it serves everything but changes')
  const { status, checks } = ready.json() as { status: string, checks: Record<string, string> }
  t.equal(status, 'degraded')
  t.match(checks.keys, /^degraded: the key ring in Redis cannot be reached since .*: serving the ring in memory/)
  t.match(checks.clients, /^degraded: the client registry in Redis cannot be reached/)

  await redis.start()
  const back = performance.now()
  let again = ''
  while (performance.now() - back < 10_000) {
    again = (await a.app.inject({ url: '/ready' })).json().status as string
    if (again === 'ready') break
    await sleep(50)
  }
  t.equal(again, 'ready', `ready again ${Math.round(performance.now() - back)} ms after Redis came back`)
  const kid = a.app.keys.view.ring.keys.find(k => k.state === 'next')?.kid
  t.equal(await rotateKeys(['--force'], env, { ...quiet, now: Date.now }), 0, 'the AOF kept the ring: rotating it works')
  const rotated = performance.now()
  while (b.app.keys.view.signing.kid !== kid && performance.now() - rotated < 5000) await sleep(5)
  t.equal(b.app.keys.view.signing.kid, kid, 'the resubscribed instance sees the next rotation')
})
