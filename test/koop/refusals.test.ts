// Every way a Koop request can be refused, as the ArcGIS answer Koop's geoservices output makes of it, and no
// token or secret in any log line on the way.
import t from 'tap'
import { rs256 } from '../helpers/forge.js'
import { testRing } from '../helpers/app.js'
import { listenIssuer, tokenOverHttp } from '../helpers/net.js'
import { ACME, FORM, QUERY, arcgisToken, generateToken, get, listenKoop, names } from '../helpers/koop.js'

const TOKEN_REQUIRED = { error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] } }
const INVALID_TOKEN = { error: { code: 498, message: 'Invalid token.', details: [] } }
const INACCESSIBLE = { error: { code: 400, messageCode: 'CONT_0001', message: 'Item does not exist or is inaccessible.', details: [] } }
const NO_PERMISSION = { error: { code: 403, message: 'You do not have permissions to access this resource or perform this operation.', details: ['this request needs scope features:write'] } }

t.test('no token, a tampered, expired, foreign or doubled token each get the documented ArcGIS answer', async t => {
  let foreign = ''
  // Its own subtest: two issuers of one test would share (and overwrite) one t.testdir().
  await t.test('another geotoken issuer, with the same test keys', async t => {
    const other = await listenIssuer(t)
    foreign = await tokenOverHttp(other.base, other.clients.acme)
  })
  const issuer = await listenIssuer(t)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` } })
  const token = await arcgisToken(koop.base, issuer.clients.acme)
  t.same(names(await get(koop.layer + QUERY, { token })), ACME, 'the genuine token passes')

  const ring = await testRing()
  const key = ring.keys.find(k => k.state === 'current')
  if (key === undefined) throw new Error('no current key')
  const now = Math.floor(Date.now() / 1000)
  const claims = { iss: issuer.base, sub: 's', aud: `${issuer.base}/features`, client_id: 's', org: 'acme', scope: 'features:read', iat: now - 1200, exp: now - 300, jti: 'j' }
  const [head, payload, signature] = token.split('.') as [string, string, string]
  const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
  const cases: Array<[string, string | undefined, object]> = [
    ['no token', undefined, TOKEN_REQUIRED],
    ['an empty token parameter', '', TOKEN_REQUIRED],
    ['a tampered token (org changed, signature kept)', `${head}.${Buffer.from(JSON.stringify({ ...body, org: 'globex' })).toString('base64url')}.${signature}`, INVALID_TOKEN],
    ['an expired token signed by the issuer\'s own key', rs256({ alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claims, key.privateKey), INVALID_TOKEN],
    ['a token of another issuer (signed by the same test keys, another iss and aud)', foreign, INVALID_TOKEN],
    ['not a JWT at all', 'hello', INVALID_TOKEN]
  ]
  for (const [name, value, expected] of cases) {
    const answer = await get(koop.layer + QUERY + (value === undefined ? '' : `&token=${value}`))
    t.equal(answer.status, 200, `${name}: HTTP 200, as ArcGIS servers answer errors`)
    t.same(answer.body, expected, `${name}: ${JSON.stringify(expected)}`)
    const bearer = value === undefined || value === '' ? undefined : await get(koop.layer + QUERY, { bearer: value })
    if (bearer !== undefined) t.same(bearer.body, expected, `${name}, as a Bearer header: the same`)
  }
  t.same((await get(`${koop.layer}${QUERY}&token=${token}`, { bearer: token })).body, INVALID_TOKEN,
    'a token both in the header and the URL is refused: what is verified is all the request carries (RFC 6750 §2)')
  t.same((await get(`${koop.layer}${QUERY}&token=${token}&token=${token}`)).body, INVALID_TOKEN, 'a repeated token parameter is refused')
  const basicAndQuery = await fetch(`${koop.layer}${QUERY}&token=${token}`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } })
  t.same(names({ status: 200, body: await basicAndQuery.json() as Record<string, unknown> }), ACME, 'an Authorization header of another scheme (a proxy\'s Basic) does not count as a second token')
  t.ok(koop.logs.some(l => l.includes('geotoken: invalid token (bad_signature)')), 'Koop logs why (the reason, not the token)')
  t.ok(koop.logs.some(l => l.includes('geotoken: invalid token (expired)')), 'an expired token is logged as expired')
  t.ok(koop.logs.some(l => l.includes('geotoken: invalid token (wrong_issuer)') || l.includes('geotoken: invalid token (wrong_audience)')), 'a foreign one by its iss or aud')
})

t.test('scopes: a read-only token reads but cannot edit (403); a token without features:read reads nothing', async t => {
  const issuer = await listenIssuer(t)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` } })
  const reader = await arcgisToken(koop.base, issuer.clients.acmeReader)
  const writer = await arcgisToken(koop.base, issuer.clients.acme)
  const addFeatures = async (token: string | undefined): Promise<Record<string, unknown>> => {
    const form = new URLSearchParams({ features: JSON.stringify([{ geometry: { x: 5.9, y: 49.5 }, attributes: { name: 'Esch depot' } }]), f: 'json', ...(token !== undefined ? { token } : {}) })
    const res = await fetch(`${koop.layer}/addFeatures`, { method: 'POST', headers: FORM, body: form })
    t.equal(res.status, 200)
    return await res.json() as Record<string, unknown>
  }
  t.same(names(await get(koop.layer + QUERY, { token: reader })), ACME, 'features:read reads')
  t.same(await addFeatures(reader), NO_PERMISSION, 'features:read alone cannot add features: ArcGIS\'s 403')
  t.same(await addFeatures(undefined), TOKEN_REQUIRED, 'an edit without a token: 499')
  t.same(await addFeatures(writer), { addResults: [{ objectId: 4, success: true }] }, 'features:read features:write adds')

  const introspector = await arcgisToken(koop.base, issuer.clients.resourceServer)
  t.same((await get(koop.layer + QUERY, { token: introspector })).body, INACCESSIBLE,
    'a valid token without features:read: Koop turns the plugin\'s 403 into ArcGIS\'s "inaccessible" (code 400, CONT_0001)')
})

t.test('generateToken: wrong secrets, credentials in the URL, and no secret or token in any log', async t => {
  const issuer = await listenIssuer(t)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` } })
  const { acme } = issuer.clients
  const unable = { error: { code: 400, message: 'Unable to generate token.', details: ['Invalid username or password.'] } }
  t.same(await generateToken(koop.base, acme.id, 'wrong-secret'), unable, 'a wrong secret')
  t.same(await generateToken(koop.base, 'nobody', 'x'), unable, 'an unknown client')
  t.same(await generateToken(koop.base, acme.id, ''), unable, 'no secret')
  const inUrl = await get(`${koop.base}/rest/generateToken?username=${acme.id}&password=${acme.secret}&f=json`)
  t.equal((inUrl.body.error as { code?: number }).code, 400, 'credentials in a URL are refused, even right ones')
  t.match((inUrl.body.error as { message?: string }).message, /POST body/)

  const token = await arcgisToken(koop.base, acme)
  await get(koop.layer + QUERY, { token })
  await get(koop.layer + QUERY, { bearer: token })
  await get(`${koop.base}/rest/info?f=json&token=${token}`)
  await get(`${koop.layer}${QUERY}&token=${token.slice(0, -4)}AAAA`)
  const koopLogs = koop.logs.join('\n')
  const issuerLogs = issuer.logs.join('\n')
  t.ok(koopLogs.includes('/query?') && koopLogs.includes('token=[Redacted]'), 'Koop\'s access lines are there, redacted')
  for (const [name, secret] of [['the token', token], ['its signature', token.split('.')[2] as string], ['the client secret', acme.secret]] as const) {
    t.notOk(koopLogs.includes(secret), `${name} is in no Koop log line`)
    t.notOk(issuerLogs.includes(secret), `${name} is in no geotoken log line`)
  }
})

t.test('generateToken: an issuer whose tokens this Koop would refuse, and a scope the client may not have, say so', async t => {
  const issuer = await listenIssuer(t)
  const wrongAudience = await listenKoop(t, { auth: { issuer: issuer.base, audience: 'https://elsewhere.example.com/features' } })
  const answer = await generateToken(wrongAudience.base, issuer.clients.acme.id, issuer.clients.acme.secret)
  t.match(answer, { error: { code: 500, message: /does not verify here \(wrong_audience\); check issuer and audience/ } },
    'a token Koop would refuse on every query is not handed out: the configuration error is named')
  const writer = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features`, scope: 'features:read features:write' } })
  t.match(await generateToken(writer.base, issuer.clients.acmeReader.id, issuer.clients.acmeReader.secret),
    { error: { code: 400, message: 'the issuer refused scope features:read features:write for this client' } }, 'the issuer\'s invalid_scope')
  t.type((await generateToken(writer.base, issuer.clients.acme.id, issuer.clients.acme.secret)).token, 'string', 'a client allowed both gets its token')
})
