// HTTP behaviour of the ops layer: security headers, CORS, /health, /ready, closing and overload 503s, 404s.
import t from 'tap'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import { basic, build, form, tokenFor } from '../helpers/app.js'

const ORIGIN = 'https://map.example.com'

t.test('every answer carries the security headers; API answers forbid loading anything', async t => {
  const { app, clients } = await build(t)
  const token = await tokenFor(app, clients.acme)
  for (const [url, headers] of [['/health', {}], ['/.well-known/jwks.json', {}], ['/features/collections', { authorization: `Bearer ${token}` }], ['/nowhere', {}]] as const) {
    const res = await app.inject({ url, headers })
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    t.equal(res.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'", `${url}: CSP`)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
    t.match(res.headers['strict-transport-security'], /max-age=\d+/)
  }
  const token401 = await app.inject({ method: 'POST', url: '/oauth/token', headers: form, payload: 'grant_type=client_credentials' })
  t.equal(token401.headers['x-content-type-options'], 'nosniff', 'the token endpoint too')
})

t.test('an unknown path is a 404 problem', async t => {
  const { app } = await build(t)
  const res = await app.inject({ url: '/nowhere?access_token=abc' })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.same(res.json(), { type: 'about:blank', title: 'Not Found', status: 404, detail: 'no resource at GET /nowhere' })
})

t.test('CORS: the feature API answers preflights for configured origins only; JWKS and metadata for any origin', async t => {
  const { app, clients } = await build(t, { CORS_ORIGINS: `${ORIGIN}, http://localhost:5173` })
  const preflight = await app.inject({
    method: 'OPTIONS', url: '/features/collections/sites/items/a1',
    headers: { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, if-match, content-type' }
  })
  t.equal(preflight.statusCode, 204, 'the preflight needs no token')
  t.equal(preflight.headers['access-control-allow-origin'], ORIGIN)
  t.match(String(preflight.headers['access-control-allow-methods']), /PUT/)
  const allowed = String(preflight.headers['access-control-allow-headers']).toLowerCase()
  for (const h of ['authorization', 'if-match', 'content-type']) t.match(allowed, h, `allows ${h}`)

  const token = await tokenFor(app, clients.acme)
  const get = await app.inject({ url: '/features/collections/sites/items/a1', headers: { origin: ORIGIN, authorization: `Bearer ${token}` } })
  t.equal(get.statusCode, 200)
  t.equal(get.headers['access-control-allow-origin'], ORIGIN)
  const exposed = String(get.headers['access-control-expose-headers']).toLowerCase()
  t.match(exposed, 'etag')
  t.match(exposed, 'location')
  t.notOk(get.headers['access-control-allow-credentials'], 'no cookies: the token travels in Authorization')

  const other = await app.inject({ method: 'OPTIONS', url: '/features/collections', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } })
  t.notOk(other.headers['access-control-allow-origin'], 'another origin is not allowed')
  const otherGet = await app.inject({ url: '/features/collections', headers: { origin: 'https://evil.example', authorization: `Bearer ${token}` } })
  t.notOk(otherGet.headers['access-control-allow-origin'])

  for (const url of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server']) {
    const res = await app.inject({ url, headers: { origin: 'https://evil.example' } })
    t.equal(res.headers['access-control-allow-origin'], '*', `${url} is readable from any origin`)
  }
  const tokenCors = await app.inject({ method: 'POST', url: '/oauth/token', headers: { origin: ORIGIN, ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: 'grant_type=client_credentials' })
  t.notOk(tokenCors.headers['access-control-allow-origin'], 'the token endpoint is not for browsers')
})

t.test('without CORS_ORIGINS the feature API grants no origin', async t => {
  const { app } = await build(t)
  const preflight = await app.inject({ method: 'OPTIONS', url: '/features/collections', headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } })
  t.notOk(preflight.headers['access-control-allow-origin'])
})

t.test('/health is liveness, /ready checks keys, clients and feature store', async t => {
  const { app } = await build(t)
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { keys: 'ok', clients: 'ok', features: 'ok' } })
})

t.test('while closing, new requests get 503 problem+json and in-flight ones finish', async t => {
  const { app, clients } = await build(t)
  const token = await tokenFor(app, clients.acme)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 })
  const call = async (path: string, headers: Record<string, string> = {}, body?: { data: string, rest: Promise<void> }): Promise<{ status: number, headers: Record<string, unknown>, body: string }> =>
    await new Promise((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', path, agent, method: body === undefined ? 'GET' : 'POST', headers }, res => {
        let text = ''
        res.on('data', (d: Buffer) => { text += String(d) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }) })
      })
      req.on('error', reject)
      if (body === undefined) { req.end(); return }
      const half = Math.floor(body.data.length / 2)
      req.write(body.data.slice(0, half))
      void body.rest.then(() => { req.end(body.data.slice(half)) })
    })
  t.equal((await call('/ready')).status, 200, 'ready before closing')
  // What the server has taken in, so close() starts only once both requests below have reached it, however slow
  // the machine: the POST handed to the app, the half-sent GET's first bytes read from its connection.
  let posts = 0
  const sockets: Socket[] = []
  app.server.on('request', (req: IncomingMessage) => { if (req.method === 'POST') posts++ })
  app.server.on('connection', (socket: Socket) => { sockets.push(socket) })
  // An upload in flight on the kept-alive connection when close() starts.
  const feature = JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [3, 45] }, properties: { name: 'in-flight', kind: 'depot' } })
  let sendRest!: () => void
  const rest = new Promise<void>(resolve => { sendRest = resolve })
  const inFlight = call('/features/collections/sites/items', { authorization: `Bearer ${token}`, 'content-type': 'application/geo+json', 'content-length': String(Buffer.byteLength(feature)) }, { data: feature, rest })
  // A /ready whose headers are half sent before close() and completed after it: it reaches the app while closing.
  const raw = connect({ port, host: '127.0.0.1' })
  let rawText = ''
  raw.on('data', (d: Buffer) => { rawText += String(d) })
  const rawEnded = new Promise(resolve => raw.on('close', resolve))
  raw.write('GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  const deadline = Date.now() + 10_000
  while (!(posts === 1 && sockets.some(s => s.remotePort === raw.localPort && s.bytesRead > 0)) && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 5))
  }
  t.equal(posts, 1, 'the upload reached the app before close()')
  const closed = app.close()
  await new Promise(resolve => setTimeout(resolve, 50))
  raw.write('Accept: */*\r\n\r\n')
  sendRest()
  await rawEnded
  t.match(rawText, /^HTTP\/1\.1 503 /, '/ready answers 503 while closing')
  t.match(rawText, /content-type: application\/problem\+json/i)
  t.match(rawText, /retry-after: 10/i)
  t.match(rawText, /"detail":"the server is shutting down; retry on another instance"/)
  const done = await inFlight
  t.equal(done.status, 201, 'the in-flight write completes')
  t.equal(done.headers.connection, 'close', 'and tells the client to reconnect elsewhere')
  const started = Date.now()
  await closed
  agent.destroy()
  t.ok(Date.now() - started < 5000, 'close() resolves once the in-flight request finished, without waiting for keep-alive timeouts')
})

t.test('overload: 503 problem+json with Retry-After, except liveness and metrics', async t => {
  const { app, clients } = await build(t, { OVERLOAD_MAX_HEAP_USED_MB: '1', OVERLOAD_RETRY_AFTER_S: '7', METRICS_TOKEN: 'metrics-token-0123456789abcdef' })
  await app.ready()
  await new Promise(resolve => setTimeout(resolve, 1300)) // under-pressure samples once a second
  const ready = await app.inject({ url: '/ready' })
  t.equal(ready.statusCode, 503)
  t.equal(ready.headers['retry-after'], '7')
  t.match(ready.headers['content-type'], /^application\/problem\+json/)
  t.match(ready.json(), { type: 'about:blank', title: 'Service Unavailable', status: 503 })
  const tokenRes = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: 'grant_type=client_credentials' })
  t.equal(tokenRes.statusCode, 503)
  t.equal(tokenRes.headers['retry-after'], '7')
  t.same(tokenRes.json(), { error: 'temporarily_unavailable', error_description: 'the server is overloaded; retry later' }, 'the token endpoint keeps its RFC 6749 shape')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'liveness stays up')
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer metrics-token-0123456789abcdef' } })).statusCode, 200, 'metrics stay readable')
})
