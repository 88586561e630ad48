// The example Koop app guarded by geotoken/koop, driven over HTTP the way an ArcGIS client drives a secured
// FeatureServer: rest/info, generateToken, then queries carrying the token.
import t from 'tap'
import { decodePart } from '../helpers/app.js'
import { listenIssuer } from '../helpers/net.js'
import { ACME, FORM, GLOBEX, QUERY, arcgisToken, generateToken, get, listenKoop, names } from '../helpers/koop.js'

t.test('an ArcGIS client finds the token service, gets a token and sees only its own organization\'s features', async t => {
  const issuer = await listenIssuer(t)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` } })

  const unauthenticated = await get(koop.layer + QUERY)
  t.equal(unauthenticated.status, 200, 'ArcGIS errors travel in a 200')
  t.same(unauthenticated.body, { error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] } })

  const info = await get(`${koop.base}/rest/info?f=json`)
  const tokenServicesUrl = (info.body.authInfo as { tokenServicesUrl?: string }).tokenServicesUrl
  t.match(info.body.authInfo, { isTokenBasedSecurity: true })
  t.equal(tokenServicesUrl, `${koop.base}/rest/generateToken`, 'rest/info advertises the generateToken route')

  const before = Date.now()
  const answer = await generateToken(koop.base, issuer.clients.acme.id, issuer.clients.acme.secret)
  t.same(Object.keys(answer).sort(), ['expires', 'ssl', 'token'])
  const token = answer.token as string
  const claims = decodePart(token, 1)
  t.equal(answer.expires, (claims.exp as number) * 1000, 'expires is the token\'s exp in epoch milliseconds, as ArcGIS clients read it')
  t.ok((answer.expires as number) > before && (answer.expires as number) <= before + (issuer.config.ACCESS_TOKEN_TTL_S + 1) * 1000, 'and it lies one token lifetime ahead')
  t.equal(answer.ssl, false, 'ssl: false for an http issuer')
  t.match(claims, { iss: issuer.base, org: 'acme', client_id: issuer.clients.acme.id })

  const acme = await get(koop.layer + QUERY, { token })
  t.same(names(acme), ACME, 'FeatureServer/0/query?token=… answers acme\'s features')
  t.same(names(await get(koop.layer + QUERY, { bearer: token })), ACME, 'Authorization: Bearer works the same')

  const globexToken = await arcgisToken(koop.base, issuer.clients.globex)
  t.same(names(await get(koop.layer + QUERY, { token: globexToken })), GLOBEX, 'globex\'s token answers globex\'s features only')

  const post = await fetch(koop.layer + '/query', { method: 'POST', headers: FORM, body: new URLSearchParams({ where: '1=1', outFields: 'name', f: 'json', token }) })
  t.same(names({ status: post.status, body: await post.json() as Record<string, unknown> }), ACME, 'the token as a form parameter of a POST query, as ArcGIS clients send long queries')

  for (const path of ['', '/0', '/layers']) {
    const url = `${koop.base}/rest/services/sites/FeatureServer${path}?f=json`
    t.equal((await get(url)).body.error !== undefined, true, `FeatureServer${path} refuses a request without a token`)
    t.equal((await get(url, { token })).body.error, undefined, `FeatureServer${path} answers with one`)
  }
})

t.test('the token parameter is a Koop route convenience only: geotoken\'s own API still refuses a token in the URL', async t => {
  const issuer = await listenIssuer(t)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` } })
  const token = await arcgisToken(koop.base, issuer.clients.acme)
  const own = await fetch(`${issuer.base}/features/collections/sites/items?token=${token}`)
  t.equal(own.status, 401, 'RFC 6750 guard: Authorization header only')
  t.same(names(await get(koop.layer + QUERY, { token })), ACME)
})
