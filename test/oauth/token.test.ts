import t from 'tap'
import { build, form, basic, decodePart } from '../helpers/app.js'

t.test('client_credentials with Basic auth issues an RFC 9068 at+jwt signed by the current key', async t => {
  const { app, clients, config, logs } = await build(t)
  const res = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: 'grant_type=client_credentials' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers.pragma, 'no-cache')
  const body = res.json() as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type'])
  t.equal(body.token_type, 'Bearer')
  t.equal(body.expires_in, config.ACCESS_TOKEN_TTL_S)
  t.equal(body.scope, 'features:read features:write')
  const token = body.access_token as string
  t.same(decodePart(token, 0), { alg: 'RS256', typ: 'at+jwt', kid: app.keys.view.signing.kid })
  const claims = decodePart(token, 1)
  t.match(claims, { iss: config.ISSUER, sub: clients.acme.id, aud: config.AUDIENCE, client_id: clients.acme.id, org: 'acme', scope: 'features:read features:write' })
  t.equal((claims.exp as number) - (claims.iat as number), config.ACCESS_TOKEN_TTL_S)
  t.match(claims.jti, /^[A-Za-z0-9_-]{22}$/)
  const issued = logs.map(l => JSON.parse(l) as Record<string, unknown>).find(l => l.event === 'token.issued')
  t.match(issued, { client_id: clients.acme.id, org: 'acme', kid: app.keys.view.signing.kid })
  t.notOk(logs.join('').includes(token), 'the token never reaches the log')
  t.notOk(logs.join('').includes(clients.acme.secret), 'the secret never reaches the log')
})

t.test('client_secret_post works and a requested scope narrows the token', async t => {
  const { app, clients } = await build(t)
  const res = await app.inject({
    method: 'POST', url: '/oauth/token', headers: form,
    payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: clients.acme.id, client_secret: clients.acme.secret, scope: 'features:read' }).toString()
  })
  t.equal(res.statusCode, 200)
  t.equal(res.json().scope, 'features:read')
  t.equal(decodePart(res.json().access_token as string, 1).scope, 'features:read')
})

interface Case { name: string, headers?: Record<string, string>, payload?: string, status: number, error: string, description?: RegExp }

t.test('every bad request gets its RFC 6749 §5.2 error, never a 500', async t => {
  const { app, clients } = await build(t)
  const acme = basic(clients.acme.id, clients.acme.secret)
  const cases: Case[] = [
    { name: 'wrong secret', headers: { ...form, ...basic(clients.acme.id, 'wrong') }, payload: 'grant_type=client_credentials', status: 401, error: 'invalid_client' },
    { name: 'unknown client', headers: { ...form, ...basic('nobody', clients.acme.secret) }, payload: 'grant_type=client_credentials', status: 401, error: 'invalid_client' },
    { name: 'no client authentication', headers: form, payload: 'grant_type=client_credentials', status: 401, error: 'invalid_client' },
    { name: 'Bearer instead of Basic', headers: { ...form, authorization: 'Bearer abc' }, payload: 'grant_type=client_credentials', status: 401, error: 'invalid_client' },
    { name: 'Basic and client_secret together', headers: { ...form, ...acme }, payload: `grant_type=client_credentials&client_secret=${clients.acme.secret}`, status: 400, error: 'invalid_request', description: /one client authentication method/ },
    { name: 'missing grant_type', headers: { ...form, ...acme }, payload: 'scope=features:read', status: 400, error: 'invalid_request', description: /grant_type/ },
    { name: 'duplicated grant_type', headers: { ...form, ...acme }, payload: 'grant_type=client_credentials&grant_type=client_credentials', status: 400, error: 'invalid_request', description: /grant_type/ },
    { name: 'unsupported grant', headers: { ...form, ...acme }, payload: 'grant_type=password', status: 400, error: 'unsupported_grant_type' },
    { name: 'unknown scope', headers: { ...form, ...acme }, payload: 'grant_type=client_credentials&scope=admin', status: 400, error: 'invalid_scope', description: /admin/ },
    { name: 'scope beyond the client allowance', headers: { ...form, ...basic(clients.acmeReader.id, clients.acmeReader.secret) }, payload: 'grant_type=client_credentials&scope=features:write', status: 400, error: 'invalid_scope', description: /not allowed/ },
    { name: 'malformed scope', headers: { ...form, ...acme }, payload: 'grant_type=client_credentials&scope=features:read%20%20features:write', status: 400, error: 'invalid_scope' },
    { name: 'JSON instead of a form', headers: { 'content-type': 'application/json', ...acme }, payload: '{"grant_type":"client_credentials"}', status: 400, error: 'invalid_request', description: /x-www-form-urlencoded/ },
    { name: 'no body', headers: acme, status: 400, error: 'invalid_request' },
    { name: 'huge body', headers: { ...form, ...acme }, payload: `grant_type=client_credentials&pad=${'x'.repeat(20000)}`, status: 400, error: 'invalid_request', description: /too large/ },
    { name: 'broken Basic encoding', headers: { ...form, authorization: `Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}` }, payload: 'grant_type=client_credentials', status: 401, error: 'invalid_client' }
  ]
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: '/oauth/token', headers: c.headers, payload: c.payload })
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    const body = res.json() as { error: string, error_description: string }
    t.equal(body.error, c.error, `${c.name}: error code`)
    t.type(body.error_description, 'string', `${c.name}: has a description`)
    if (c.description !== undefined) t.match(body.error_description, c.description, `${c.name}: description`)
    t.equal(res.headers['cache-control'], 'no-store', `${c.name}: no-store`)
    if (c.status === 401) t.match(res.headers['www-authenticate'], /^Basic realm="geotoken"/, `${c.name}: challenge`)
  }
})

t.test('unknown client and wrong secret answer byte for byte alike', async t => {
  const { app, clients } = await build(t)
  const ask = async (id: string, secret: string) => await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(id, secret) }, payload: 'grant_type=client_credentials' })
  const [wrong, unknown] = await Promise.all([ask(clients.acme.id, 'nope'), ask('acme-0000000000000000', 'nope')])
  t.equal(wrong.body, unknown.body)
  t.same(wrong.headers['www-authenticate'], unknown.headers['www-authenticate'])
})

t.test('a disabled client is refused like an unknown one', async t => {
  const { app, clients, dataDir } = await build(t)
  const { updateClients } = await import('../../src/clients/store.js')
  const { disableClient } = await import('../../src/clients/registry.js')
  await updateClients(dataDir, file => ({ file: disableClient(file, clients.acme.id, new Date()), result: null }))
  await app.clients.reload()
  const res = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, payload: 'grant_type=client_credentials' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().error, 'invalid_client')
})
