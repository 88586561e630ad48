// Owns the contract between the token endpoint and its grants (RFC 6749 §4): who the token is for, and with what scope.
import type { Client } from '../../clients/registry.js'

/** The token endpoint's parameters; each grant checks the ones it needs. */
export interface TokenParams {
  grant_type: string
  scope?: string
  assertion?: string
  refresh_token?: string
}

export interface GrantResult {
  subject: string
  org: string
  /** Scope of the access token. */
  scope: string
  /**
   * Set when a refresh token is to be issued: its scope, the identity provider that vouched for the subject
   * (jwt-bearer), and the family it continues (a rotation).
   */
  refresh?: { scope: string, issuer?: string, family?: { id: string, expiresAtMs: number } }
}

export interface Grant {
  grantType: string
  handle: (client: Client, params: TokenParams, nowMs: number) => Promise<GrantResult>
}
