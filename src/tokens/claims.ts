// Owns the vocabulary of access tokens: the scopes the issuer knows and the syntax of an organization name.
// The issuer grants from it and every verifier (in-process and remote) refuses a token that strays from it.

/** `tokens:introspect` lets a resource server introspect tokens issued to other clients (RFC 7662 §4). */
export const KNOWN_SCOPES = ['features:read', 'features:write', 'tokens:introspect'] as const
export type Scope = typeof KNOWN_SCOPES[number]
export const ORG_PATTERN = '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'

const ORG = new RegExp(ORG_PATTERN)

/** True for a string the registry would accept as an organization id (DNS-label syntax). */
export function isOrgName (value: string): boolean {
  return ORG.test(value)
}

/** True for a scope claim as the issuer writes it: one or more known scopes separated by single spaces (RFC 6749 §3.3). */
export function isKnownScopeList (scope: string): boolean {
  return scope.split(' ').every(s => (KNOWN_SCOPES as readonly string[]).includes(s))
}

/** RFC 9068 §2.2 claims, plus `org`: the tenant whose data the token opens. */
export interface AccessTokenClaims {
  iss: string
  sub: string
  aud: string
  client_id: string
  org: string
  scope: string
  iat: number
  exp: number
  jti: string
}
