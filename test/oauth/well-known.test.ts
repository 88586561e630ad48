import t from 'tap'
import { build } from '../helpers/app.js'

t.test('the JWKS publishes current and next keys with public members only', async t => {
  const { app, config } = await build(t)
  const res = await app.inject({ url: '/.well-known/jwks.json', headers: { origin: 'https://map.example' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/jwk-set+json')
  t.equal(res.headers['cache-control'], `public, max-age=${config.JWKS_MAX_AGE_S}`)
  t.equal(res.headers['access-control-allow-origin'], '*')
  const { keys } = res.json() as { keys: Array<Record<string, unknown>> }
  t.same(keys.map(k => k.kid).sort(), app.keys.view.ring.keys.map(k => k.kid).sort())
  for (const k of keys) t.same(Object.keys(k).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use'])
  t.notMatch(res.body, /"(d|p|q|dp|dq|qi)"/, 'no private member anywhere')
})

t.test('the JWKS ETag is honoured by If-None-Match', async t => {
  const { app } = await build(t)
  const first = await app.inject({ url: '/.well-known/jwks.json' })
  const etag = first.headers.etag as string
  t.match(etag, /^"[A-Za-z0-9_-]+"$/)
  const again = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': `W/"other", ${etag}` } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  t.equal(again.headers.etag, etag)
  const stale = await app.inject({ url: '/.well-known/jwks.json', headers: { 'if-none-match': '"stale"' } })
  t.equal(stale.statusCode, 200)
})

t.test('both discovery documents describe the server (RFC 8414)', async t => {
  const { app, config } = await build(t)
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const res = await app.inject({ url: path, headers: { origin: 'https://map.example' } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.match(res.json(), {
      issuer: config.ISSUER,
      token_endpoint: `${config.ISSUER}/oauth/token`,
      jwks_uri: `${config.ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: ['features:read', 'features:write']
    })
  }
})
