// Owns the client_credentials grant (RFC 6749 §4.4): a token for the client itself, scoped within its allowance.
import { OAuthError } from '../../shared/errors.js'
import type { Client } from '../../clients/registry.js'
import { KNOWN_SCOPES } from '../../tokens/claims.js'
import type { Grant } from './grant.js'
import type { ClientCredentialsParams } from '../schemas.js'

/**
 * RFC 6749 §3.3 scope: space-delimited NQCHAR tokens, each known and within `allowed`;
 * absent means everything allowed, and so does empty: "parameters sent without a value MUST be treated as if they
 * were omitted" (§3.1). Swagger UI's client-credentials "Authorize" sends `scope=` when no scope is ticked.
 */
export function grantedScope (allowed: readonly string[], requested: string | undefined): string {
  if (requested === undefined || requested === '') return allowed.join(' ')
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(requested)) {
    throw new OAuthError('invalid_scope', 'scope must be space-separated scope names')
  }
  const wanted = [...new Set(requested.split(' '))]
  const unknown = wanted.find(s => !(KNOWN_SCOPES as readonly string[]).includes(s))
  if (unknown !== undefined) throw new OAuthError('invalid_scope', `unknown scope ${unknown}; known: ${KNOWN_SCOPES.join(' ')}`)
  const denied = wanted.find(s => !allowed.includes(s))
  if (denied !== undefined) throw new OAuthError('invalid_scope', `scope ${denied} is not allowed here`)
  return wanted.join(' ')
}

export function checkGrantAllowed (client: Client, grantType: string): void {
  if (!(client.grant_types as string[]).includes(grantType)) {
    throw new OAuthError('unauthorized_client', `this client may not use grant type ${grantType}`)
  }
}

/** RFC 6749 §4.4: a token for the client itself; no refresh token (§4.4.3). */
export const clientCredentials: Grant<ClientCredentialsParams> = {
  grantType: 'client_credentials',
  async handle (client, params) {
    const scope = grantedScope(client.scopes, params.scope)
    // A client with no scope left: a token with an empty scope opens nothing, and every verifier refuses one.
    if (scope === '') throw new OAuthError('invalid_scope', 'this client has no scope')
    return { subject: client.client_id, org: client.org, scope }
  }
}
