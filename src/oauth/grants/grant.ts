// Owns the contract between the token endpoint and its grants (RFC 6749 §4): who the token is for, and with what scope.
import type { Client } from '../../clients/registry.js'
import type { TokenRequest } from '../schemas.js'

export interface GrantResult {
  subject: string
  org: string
  /** Scope of the access token. */
  scope: string
  /**
   * Set when a refresh token is to be issued: its scope, the identity provider that vouched for the subject
   * (jwt-bearer), and the family it continues (a rotation), with `spend`, which the token endpoint calls once the
   * successor is stored: it spends the token replaced, or throws if that was reused.
   */
  refresh?: { scope: string, issuer?: string, family?: { id: string, expiresAtMs: number, spend: () => Promise<void> } }
}

/**
 * A grant type: `Params` is its own parameters' schema type (src/oauth/schemas.ts), which the token endpoint's
 * request type includes; the handler checks that the ones it requires are present.
 */
export interface Grant<Params = TokenRequest> {
  grantType: string
  handle: (client: Client, params: Params, nowMs: number) => Promise<GrantResult>
}
