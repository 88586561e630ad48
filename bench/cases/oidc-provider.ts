// Benchmark case: oidc-provider v9 (the well-known Node authorization server) issuing client-credentials
// access tokens as RS256 JWTs for one resource server (RFC 8707 resource indicator, accessTokenFormat 'jwt').
import { generateKeyPairSync } from 'node:crypto'
import Provider from 'oidc-provider'
import { announce, freePort } from './ready.js'

const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const resource = `${issuer}/features`
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
const client = { client_id: 'bench', client_secret: 'bench-secret-0123456789abcdef0123456789abcdef', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'features:read features:write' }

const provider = new Provider(issuer, {
  clients: [client],
  jwks: { keys: [{ ...signingKey, kid: 'bench', use: 'sig', alg: 'RS256' }] },
  scopes: ['features:read', 'features:write'],
  ttl: { ClientCredentials: 900 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'features:read features:write', audience: resource, accessTokenTTL: 900, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } })
    }
  }
})
provider.listen(port, '127.0.0.1')
announce({ port, clientId: client.client_id, clientSecret: client.client_secret })
