// Revocation (RFC 7009) and introspection (RFC 7662): a revoked token is refused at once, and only owners see tokens.
import t from 'tap'
import { basic, build, form, tokenFor } from '../helpers/app.js'

async function setup (t: Parameters<typeof build>[0]) {
  const built = await build(t)
  const post = async (path: string, payload: string, client = built.clients.acme) => await built.app.inject({
    method: 'POST', url: `/oauth/${path}`, headers: { ...form, ...basic(client.id, client.secret) }, payload
  })
  const items = async (token: string) => (await built.app.inject({ url: '/features/collections/sites/items', headers: { authorization: `Bearer ${token}` } })).statusCode
  return { ...built, post, items }
}

t.test('a client revokes its access token: the guard refuses it at once, introspection says inactive', async t => {
  const { app, clients, post, items, logs } = await setup(t)
  const token = await tokenFor(app, clients.acme)
  t.equal(await items(token), 200, 'warm: the token works (and is cached by the guard)')
  t.same((await post('introspect', `token=${token}`)).json().active, true)
  const res = await post('revoke', `token=${token}&token_type_hint=access_token`)
  t.equal(res.statusCode, 200)
  t.equal(res.body, '', 'RFC 7009 §2.2: an empty 200')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(await items(token), 401, 'refused by the guard right after revocation')
  t.same((await post('introspect', `token=${token}`)).json(), { active: false })
  t.ok(logs.some(l => l.includes('"event":"token.revoked"')), 'audited')
  t.notOk(logs.some(l => l.includes(token)), 'the token itself is never logged')
})

t.test('a client cannot revoke another client\'s token, and learns nothing trying', async t => {
  const { app, clients, post, items } = await setup(t)
  const victim = await tokenFor(app, clients.globex)
  const res = await post('revoke', `token=${victim}`)
  t.equal(res.statusCode, 200, 'answered like any unknown token')
  t.equal(await items(victim), 200, 'the victim token still works')
  for (const junk of ['garbage', 'a.b.c', 'x'.repeat(5000)]) t.equal((await post('revoke', `token=${junk}`)).statusCode, 200, `unknown token ${junk.slice(0, 10)}: 200`)
})

t.test('revocation and introspection require client authentication and a token', async t => {
  const { app, clients, post } = await setup(t)
  const token = await tokenFor(app, clients.acme)
  for (const path of ['revoke', 'introspect']) {
    const anon = await app.inject({ method: 'POST', url: `/oauth/${path}`, headers: form, payload: `token=${token}` })
    t.equal(anon.statusCode, 401, `${path}: no client auth`)
    t.equal(anon.json().error, 'invalid_client')
    const wrong = await app.inject({ method: 'POST', url: `/oauth/${path}`, headers: { ...form, ...basic(clients.acme.id, 'wrong') }, payload: `token=${token}` })
    t.equal(wrong.json().error, 'invalid_client', `${path}: wrong secret`)
    const missing = await post(path, 'token_type_hint=access_token')
    t.equal(missing.statusCode, 400)
    t.match(missing.json(), { error: 'invalid_request', error_description: /token/ }, `${path}: missing token`)
    const json = await app.inject({ method: 'POST', url: `/oauth/${path}`, headers: { 'content-type': 'application/json', ...basic(clients.acme.id, clients.acme.secret) }, payload: JSON.stringify({ token }) })
    t.equal(json.json().error, 'invalid_request', `${path}: JSON body refused`)
  }
})

t.test('introspection: own tokens, or any with tokens:introspect; malformed, expired and foreign tokens are inactive', async t => {
  const { app, clients, post } = await setup(t)
  const token = await tokenFor(app, clients.acme)
  const own = (await post('introspect', `token=${token}`)).json()
  t.match(own, { active: true, token_type: 'Bearer', client_id: clients.acme.id, org: 'acme', scope: 'features:read features:write', iss: 'http://geotoken.test' })
  t.same((await post('introspect', `token=${token}`, clients.globex)).json(), { active: false }, 'another client without the right sees nothing')
  t.match((await post('introspect', `token=${token}`, clients.resourceServer)).json(), { active: true, org: 'acme' }, 'a resource server with tokens:introspect sees it')
  const [h, p] = token.split('.') as [string, string]
  const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), org: 'globex' })).toString('base64url')}.${token.split('.')[2] ?? ''}`
  for (const [name, value] of [['malformed', 'not-a-token'], ['tampered', tampered], ['empty segments', '..']] as const) {
    t.same((await post('introspect', `token=${encodeURIComponent(value)}`, clients.resourceServer)).json(), { active: false }, name)
  }
})

t.test('an expired token introspects as inactive', async t => {
  let now = Date.now()
  const built = await build(t, {}, { clock: () => now })
  const token = await tokenFor(built.app, built.clients.acme)
  now += 3600_000
  const res = await built.app.inject({ method: 'POST', url: '/oauth/introspect', headers: { ...form, ...basic(built.clients.acme.id, built.clients.acme.secret) }, payload: `token=${token}` })
  t.same(res.json(), { active: false })
})
