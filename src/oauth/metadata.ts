// Owns the RFC 8414 authorization server metadata document.
import { KNOWN_SCOPES } from '../tokens/claims.js'
import type { ServerMetadata } from './schemas.js'

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

export function serverMetadata (issuer: string, grantTypes: readonly string[]): ServerMetadata {
  return {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    grant_types_supported: [...grantTypes],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    scopes_supported: [...KNOWN_SCOPES],
    // No authorization endpoint: only grants without a browser redirect.
    response_types_supported: []
  }
}
