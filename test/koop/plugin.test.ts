// The plugin's own parts: its options check, what it reads from and leaves in a request, and the ArcGIS bodies.
import t from 'tap'
import { arcgisError, koopAuth, KoopAuthError, ORG_KEY_PARAM, type KoopAuthOptions, type KoopRequest } from '../../src/koop/plugin.js'
import { attachClaims, requiredScopes, takeToken } from '../../src/koop/koop-request.js'
import type { AccessTokenClaims } from '../../src/tokens/claims.js'
import { listenIssuer, tokenOverHttp } from '../helpers/net.js'

const OK: KoopAuthOptions = { issuer: 'https://auth.example.com', audience: 'https://auth.example.com/features' }
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'

function request (over: Partial<KoopRequest> = {}): KoopRequest {
  return { method: 'GET', url: '/orgs/rest/services/sites/FeatureServer/0/query?where=1%3D1', headers: {}, query: { where: '1=1' }, body: {}, ...over }
}

t.test('koopAuth is what koop.register() takes as an auth plugin, and checks its options at once', async t => {
  const plugin = koopAuth(OK)
  t.match(plugin, { type: 'auth', name: 'geotoken', version: /^\d+\.\d+\.\d+/ })
  t.type(plugin.authorize, 'function')
  t.type(plugin.authenticate, 'function')
  const bad: Array<[string, Partial<KoopAuthOptions>]> = [
    ['no issuer', { issuer: undefined as unknown as string }],
    ['an issuer with a trailing slash', { issuer: 'https://auth.example.com/' }],
    ['no audience', { audience: '' }],
    ['ssl not a boolean', { ssl: 'yes' as unknown as boolean }],
    ['a malformed scope', { scope: ' features:read' }],
    ['a negative token cache', { tokenCacheSize: -1 }],
    ['introspection without a secret', { introspection: { clientId: 'rs', clientSecret: '' } }]
  ]
  for (const [name, options] of bad) t.throws(() => koopAuth({ ...OK, ...options }), { code: 'APP_VERIFIER_OPTIONS' }, name)
})

t.test('authorize needs no `this`: Koop copies it onto every provider model', async t => {
  const { authorize } = koopAuth(OK)
  await t.rejects(authorize(request()), { code: 499, reason: 'missing' }, 'called bare, it still answers (no token: 499)')
})

t.test('a request authorized twice (a provider route that authorizes, then pulls through Koop) passes twice', async t => {
  const issuer = await listenIssuer(t)
  const { authorize } = koopAuth({ issuer: issuer.base, audience: `${issuer.base}/features` })
  const token = await tokenOverHttp(issuer.base, issuer.clients.acme)
  const req = request({ url: `/orgs/rest/services/sites/FeatureServer/0/query?token=${token}`, query: { token } })
  await authorize(req)
  t.equal(req.query?.token, undefined, 'the first call took the token out of the request')
  await authorize(req)
  t.equal(req.geotoken?.org, 'acme', 'the second is judged by the claims the first verified')
  const other = request({ url: '/orgs/rest/services/sites/FeatureServer/0/query' })
  await t.rejects(authorize(other), { code: 499 }, 'another request without a token is not')
})

t.test('takeToken reads one carrier and takes the token out of the request before it is judged', async t => {
  const header = request({ headers: { authorization: `Bearer ${JWT}` } })
  t.equal(takeToken(header), JWT, 'Authorization: Bearer')
  t.equal(takeToken(request({ headers: { authorization: `bearer   ${JWT}` } })), JWT, 'the scheme is case-insensitive (RFC 7235)')

  const query = request({ url: `/x/query?where=1%3D1&token=${JWT}&f=json`, originalUrl: `/koop/x/query?where=1%3D1&token=${JWT}&f=json`, query: { where: '1=1', token: JWT, f: 'json' } })
  t.equal(takeToken(query), JWT, 'the token query parameter')
  t.same(query.query, { where: '1=1', f: 'json' }, 'gone from req.query (Koop\'s cache key, providers, FeatureServer)')
  t.equal(query.url, '/x/query?where=1%3D1&token=[Redacted]&f=json', 'redacted in req.url')
  t.equal(query.originalUrl, '/koop/x/query?where=1%3D1&token=[Redacted]&f=json', 'and in req.originalUrl, which access loggers write')

  const form = request({ method: 'POST', body: { where: '1=1', token: JWT } })
  t.equal(takeToken(form), JWT, 'the token form parameter')
  t.same(form.body, { where: '1=1' }, 'gone from req.body')

  t.equal(takeToken(request()), undefined, 'none')
  t.equal(takeToken(request({ query: { token: '' } })), undefined, 'an empty parameter is none')
  t.equal(takeToken(request({ headers: { authorization: 'Basic dXNlcjpwYXNz' } })), undefined, 'another scheme is not a token')
  const refused: Array<[string, KoopRequest, string]> = [
    ['header and query', request({ headers: { authorization: `Bearer ${JWT}` }, query: { token: JWT } }), 'ambiguous'],
    ['query and body', request({ query: { token: JWT }, body: { token: JWT } }), 'ambiguous'],
    ['a repeated parameter', request({ query: { token: [JWT, JWT] } }), 'malformed'],
    ['Bearer without a token', request({ headers: { authorization: 'Bearer' } }), 'malformed'],
    ['characters no token has', request({ query: { token: 'a b"c' } }), 'malformed']
  ]
  for (const [name, req, reason] of refused) {
    t.throws(() => takeToken(req), { code: 498, reason }, name)
    t.notOk(JSON.stringify(req.query ?? {}).includes(JWT) || JSON.stringify(req.body ?? {}).includes(JWT), `${name}: taken out all the same`)
  }
})

t.test('reads need features:read; ArcGIS edit operations and PUT, PATCH, DELETE need features:write too', async t => {
  const at = (url: string, method = 'GET'): string[] => requiredScopes(request({ url, method }))
  t.same(at('/orgs/rest/services/sites/FeatureServer/0/query?where=1%3D1'), ['features:read'])
  t.same(at('/orgs/rest/services/sites/FeatureServer/0/query', 'POST'), ['features:read'], 'a POST query reads')
  for (const op of ['applyEdits', 'addFeatures', 'updateFeatures', 'deleteFeatures', 'calculate', 'append']) {
    t.same(at(`/orgs/rest/services/sites/FeatureServer/0/${op}`, 'POST'), ['features:read', 'features:write'], op)
  }
  t.same(at('/orgs/rest/services/sites/FeatureServer/applyEdits/', 'POST'), ['features:read', 'features:write'], 'the service-level applyEdits, trailing slash')
  t.same(at('/orgs/rest/services/sites/FeatureServer/0/addFeature%73', 'POST'), ['features:read', 'features:write'], 'percent-encoded')
  t.same(at('/orgs/things/1', 'DELETE'), ['features:read', 'features:write'], 'DELETE')
})

t.test('attachClaims hands providers the claims and overwrites whatever the client sent as the organization', async t => {
  const claims = { org: 'acme', scope: 'features:read' } as AccessTokenClaims
  const req = request({ query: { where: '1=1', [ORG_KEY_PARAM]: 'globex' }, body: { [ORG_KEY_PARAM]: 'globex' } })
  attachClaims(req, claims)
  t.equal(req.geotoken, claims)
  t.same(req.query, { where: '1=1', [ORG_KEY_PARAM]: 'acme' })
  t.same(req.body, {}, 'none left in the body, which Koop\'s key reads last')
  // Express 5 parses req.query again on every read: the organization would silently not be in the key.
  const reparsed = request()
  Object.defineProperty(reparsed, 'query', { get: () => ({ where: '1=1' }) })
  t.throws(() => { attachClaims(reparsed, claims) }, { code: 500, reason: 'misconfigured' }, 'a req.query that does not keep it fails closed')
})

t.test('arcgisError gives provider routes the bodies ArcGIS clients know', async t => {
  t.same(arcgisError(new KoopAuthError(499, 'missing', 'x')), { error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] } })
  t.same(arcgisError(new KoopAuthError(498, 'expired', 'x')), { error: { code: 498, message: 'Invalid token.', details: [] } })
  t.match(arcgisError(new KoopAuthError(403, 'insufficient_scope', 'x', ['d'])), { error: { code: 403, details: ['d'] } })
  t.same(arcgisError(new KoopAuthError(503, 'keys_unavailable', 'retry', ['later'])), { error: { code: 503, message: 'retry', details: ['later'] } })
  t.same(arcgisError(new Error('a bug with a secret in it')), { error: { code: 500, message: 'Internal error.', details: [] } }, 'anything else says nothing')
})
