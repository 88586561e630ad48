// Owns the RFC 8414 authorization server metadata document.
import { KNOWN_SCOPES, GRANT_TYPES } from '../clients/registry.js'

export interface ServerMetadata {
  issuer: string
  token_endpoint: string
  jwks_uri: string
  grant_types_supported: string[]
  token_endpoint_auth_methods_supported: string[]
  scopes_supported: string[]
  response_types_supported: string[]
}

export function serverMetadata (issuer: string): ServerMetadata {
  return {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    grant_types_supported: [...GRANT_TYPES],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: [...KNOWN_SCOPES],
    // No authorization endpoint: only grants without a browser redirect.
    response_types_supported: []
  }
}
