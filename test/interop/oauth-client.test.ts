// Independent, strict implementations play the other side over real HTTP: oauth4webapi as the client, jose as the verifier.
import t from 'tap'
import * as oauth from 'oauth4webapi'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { build } from '../helpers/app.js'

t.test('oauth4webapi discovers the metadata and runs client_credentials; jose verifies the token against the JWKS', async t => {
  // The issuer must be the URL the server answers on, so pick the port first.
  const probe = await build(t, { LOG_LEVEL: 'silent' })
  await probe.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (probe.app.server.address() as { port: number }).port
  await probe.app.close()
  const { app, clients, config } = await build(t, { ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'silent' })
  await app.listen({ host: '127.0.0.1', port })

  const issuer = new URL(config.ISSUER)
  const options = { [oauth.allowInsecureRequests]: true }
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' }))
  t.equal(as.token_endpoint, `${config.ISSUER}/oauth/token`)

  for (const auth of [oauth.ClientSecretBasic(clients.acme.secret), oauth.ClientSecretPost(clients.acme.secret)]) {
    const response = await oauth.clientCredentialsGrantRequest(as, { client_id: clients.acme.id }, auth, new URLSearchParams({ scope: 'features:read' }), options)
    const result = await oauth.processClientCredentialsResponse(as, { client_id: clients.acme.id }, response)
    t.equal(result.token_type, 'bearer')
    t.equal(result.scope, 'features:read')

    const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string))
    const { payload, protectedHeader } = await jwtVerify(result.access_token, jwks, {
      issuer: config.ISSUER, audience: config.AUDIENCE, typ: 'at+jwt', algorithms: ['RS256'], requiredClaims: ['jti', 'client_id', 'iat', 'exp', 'sub']
    })
    t.equal(protectedHeader.kid, app.keys.view.signing.kid)
    t.match(payload, { org: 'acme', client_id: clients.acme.id, scope: 'features:read' })
  }

  await t.rejects(async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, { client_id: clients.acme.id }, oauth.ClientSecretBasic('wrong'), new URLSearchParams(), options)
    await oauth.processClientCredentialsResponse(as, { client_id: clients.acme.id }, response)
  }, { code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE', status: 401 }, 'a wrong secret surfaces as a 401 Basic challenge in the client library')
})
