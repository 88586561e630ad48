import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { build, tokenFor, decodePart } from '../helpers/app.js'
import { addGuardedRoute } from '../helpers/guarded.js'
import { b64, hs256, rs256 } from '../helpers/forge.js'

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

t.test('a token in the query string is never accepted', async t => {
  const { get, token } = await setup(t)
  const res = await get(undefined, `/guarded?access_token=${token}`)
  t.equal(res.statusCode, 401)
})

t.test('a missing scope answers 403 insufficient_scope naming the scope', async t => {
  const { app, clients } = await setup(t)
  const readOnly = await tokenFor(app, clients.acmeReader)
  const res = await app.inject({ method: 'POST', url: '/guarded', headers: { authorization: `Bearer ${readOnly}` } })
  t.equal(res.statusCode, 403)
  t.match(res.headers['www-authenticate'], /error="insufficient_scope".*scope="features:write"/)
})

t.test('tampered and forged tokens answer 401 invalid_token', async t => {
  const { get, token, key, claims, header, app, config } = await setup(t)
  const [h, p, s] = token.split('.') as [string, string, string]
  const now = Math.floor(Date.now() / 1000)
  const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const pem = key.publicKey.export({ format: 'pem', type: 'spki' }) as string
  const jwksBody = app.keys.view.jwks.body
  const cases: Record<string, string> = {
    'payload changed, signature kept (org switched)': `${h}.${b64({ ...claims, org: 'globex' })}.${s}`,
    'payload changed, signature kept (exp extended)': `${h}.${b64({ ...claims, exp: (claims.exp as number) + 3600 })}.${s}`,
    'signature stripped': `${h}.${p}.`,
    'two segments only': `${h}.${p}`,
    'alg none': `${b64({ ...header, alg: 'none' })}.${p}.`,
    'alg None with the old signature': `${b64({ ...header, alg: 'None' })}.${p}.${s}`,
    'HS256 signed with the PEM public key': hs256({ ...header, alg: 'HS256' }, claims, pem),
    'HS256 signed with the JWKS as secret': hs256({ ...header, alg: 'HS256' }, claims, jwksBody),
    'foreign key reusing a real kid': rs256(header, claims, foreign),
    'unknown kid': rs256({ ...header, kid: 'not-a-kid' }, claims, key.privateKey),
    'missing kid': rs256({ alg: 'RS256', typ: 'at+jwt' }, claims, key.privateKey),
    'kid with path traversal': rs256({ ...header, kid: '../../etc/passwd' }, claims, key.privateKey),
    'typ JWT instead of at+jwt': rs256({ ...header, typ: 'JWT' }, claims, key.privateKey),
    'expired': rs256(header, { ...claims, iat: now - 7200, exp: now - 3600 }, key.privateKey),
    'nbf in the future': rs256(header, { ...claims, nbf: now + 3600 }, key.privateKey),
    'iat far in the future': rs256(header, { ...claims, iat: now + 3600, exp: now + 3600 + 60 }, key.privateKey),
    'wrong iss': rs256(header, { ...claims, iss: 'https://evil.example' }, key.privateKey),
    'wrong aud': rs256(header, { ...claims, aud: 'https://other.example' }, key.privateKey),
    'no exp': rs256(header, { ...claims, exp: undefined }, key.privateKey),
    'lifetime longer than the issuer grants': rs256(header, { ...claims, exp: now + config.ACCESS_TOKEN_TTL_S * 10 }, key.privateKey),
    'embedded jwk header': rs256({ ...header, jwk: foreign.export({ format: 'jwk' }) }, claims, foreign),
    'jku header': rs256({ ...header, jku: 'http://127.0.0.1:1/jwks.json' }, claims, key.privateKey),
    'unknown crit header': rs256({ ...header, crit: ['exp2'], exp2: 1 }, claims, key.privateKey),
    'org not a string': rs256(header, { ...claims, org: ['acme', 'globex'] }, key.privateKey),
    'garbage': 'not.a.jwt',
    'non-base64url characters': `${h}.${p}!.${s}`
  }
  for (const [name, forged] of Object.entries(cases)) {
    const res = await get(`Bearer ${forged}`)
    t.equal(res.statusCode, 401, `${name}: 401`)
    t.match(res.headers['www-authenticate'], /^Bearer realm="geotoken", error="invalid_token"/, `${name}: invalid_token challenge`)
    t.notMatch(res.body, /stack|at [A-Za-z]+ \(/, `${name}: no stack trace`)
  }
})

t.test('odd Authorization spellings answer 401', async t => {
  const { get, token } = await setup(t)
  for (const value of [`Basic ${token}`, `Bearer`, `Bearer ${token} extra`, `Bearer\t${token}`, `${token}`, `Bearer "${token}"`]) {
    t.equal((await get(value)).statusCode, 401, JSON.stringify(value.slice(0, 12)))
  }
})
