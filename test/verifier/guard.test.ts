import t from 'tap'
import { build, tokenFor, decodePart } from '../helpers/app.js'
import { addGuardedRoute } from '../helpers/guarded.js'

async function setup (t: Parameters<typeof build>[0]) {
  const built = await build(t)
  await addGuardedRoute(built.app, built.config)
  const token = await tokenFor(built.app, built.clients.acme)
  const key = built.app.keys.view.signing
  const get = async (authorization?: string, url = '/guarded') => await built.app.inject({ url, headers: authorization === undefined ? {} : { authorization } })
  const claims = decodePart(token, 1)
  const header = decodePart(token, 0)
  return { ...built, token, key, get, claims, header }
}

t.test('a valid token opens the route and types the claims on the request', async t => {
  const { get, token, clients } = await setup(t)
  const res = await get(`Bearer ${token}`)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { org: 'acme', sub: clients.acme.id })
  t.equal((await get(`bearer  ${token}`)).statusCode, 200, 'the scheme is case-insensitive (RFC 7235)')
})

t.test('no Authorization header answers 401 with a bare Bearer challenge (RFC 6750 §3.1)', async t => {
  const { get } = await setup(t)
  const res = await get()
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="geotoken"')
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(res.json(), { status: 401, title: 'Unauthorized' })
})

t.test('a missing scope answers 403 insufficient_scope naming the scope', async t => {
  const { app, clients } = await setup(t)
  const readOnly = await tokenFor(app, clients.acmeReader)
  const res = await app.inject({ method: 'POST', url: '/guarded', headers: { authorization: `Bearer ${readOnly}` } })
  t.equal(res.statusCode, 403)
  t.match(res.headers['www-authenticate'], /error="insufficient_scope".*scope="features:write"/)
})

// Forged, tampered and oddly presented tokens: test/security/forged-tokens.test.ts, against the real feature routes.
