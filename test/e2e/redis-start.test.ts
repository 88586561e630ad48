// Issue 16: `npm start` with STATE_STORE=redis, as a real process. It starts against a running Redis (and /ready
// shows the token-state check); against an unreachable one it refuses to start, promptly, saying what to check,
// and never prints the password in REDIS_URL.
import t from 'tap'
import { freePort } from '../helpers/net.js'
import { processFixture, startServer } from '../helpers/process.js'
import { startRedis } from '../helpers/redis.js'

t.test('with Redis running the service starts on it and /ready reports the token state', async t => {
  const redis = await startRedis(t)
  const { env, base } = await processFixture(t, { STATE_STORE: 'redis', REDIS_URL: redis.url })
  const server = startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  await server.ready()
  const ready = await (await fetch(`${base}/ready`)).json() as { status: string, checks: Record<string, string> }
  t.equal(ready.status, 'ready')
  t.equal(ready.checks['token-state'], 'ok')
})

t.test('with Redis unreachable it refuses to start within seconds: exit 1, APP_REDIS_UNAVAILABLE, the address, no password', async t => {
  const port = await freePort()
  const { env } = await processFixture(t, { STATE_STORE: 'redis', REDIS_URL: `redis://:hunter2secret@127.0.0.1:${port}`, REDIS_TIMEOUT_MS: '300' })
  const started = Date.now()
  const server = startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  const { code } = await server.exited
  const { stdout, stderr } = server.output()
  t.equal(code, 1)
  t.match(stderr, `APP_REDIS_UNAVAILABLE`)
  t.match(stderr, `127.0.0.1:${port}`)
  t.match(stderr, /check that Redis runs there and that REDIS_URL names it/)
  t.notMatch(stdout + stderr, 'hunter2secret')
  t.ok(Date.now() - started < 15_000, `exited after ${Date.now() - started} ms`)
})
