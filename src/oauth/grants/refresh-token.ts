// Owns the refresh_token grant (RFC 6749 §6): one use per token, rotation within the family, reuse revokes all,
// and never more scope than the client (and the identity provider that vouched for the user) allow now.
import { OAuthError } from '../../shared/errors.js'
import type { Client } from '../../clients/registry.js'
import { mayGrantOrg, type TrustedIssuer } from '../trusted-issuers.js'
import type { RefreshTokens, RotateRefusal } from '../../tokens/refresh-tokens.js'
import type { RefreshGrant } from '../../tokens/state.js'
import type { Log } from '../../shared/log.js'
import { audit } from '../../shared/audit.js'
import { grantedScope } from './client-credentials.js'
import type { Grant } from './grant.js'
import type { RefreshTokenParams } from '../schemas.js'

export interface RefreshGrantOptions {
  refreshTokens: RefreshTokens
  log: Log
  /** The identity providers trusted now; a grant from one no longer listed cannot be refreshed. */
  issuers: readonly TrustedIssuer[]
}

const REASONS = {
  unknown: 'the refresh token is invalid',
  wrong_client: 'the refresh token is invalid',
  expired: 'the refresh token has expired',
  revoked: 'the refresh token has been revoked',
  reused: 'the refresh token was already used; its whole family is now revoked'
} as const

/**
 * The access token's scope for this refresh: the grant's scope, within what the client and the grant's identity
 * provider allow now (issue 13: a scope taken from a client was refreshed back until the family's deadline).
 * Nothing left is invalid_grant: the grant itself no longer stands for anything (RFC 6749 §5.2). Asking for more
 * than is left is invalid_scope: the request exceeds what may be granted (§5.2, §6).
 */
function scopeNow (grant: RefreshGrant, client: Client, issuers: ReadonlyMap<string, TrustedIssuer>, requested: string | undefined): string {
  if (grant.org !== client.org) throw new OAuthError('invalid_grant', 'the refresh token is invalid', 400, 'org changed')
  let allowed = grant.scope.split(' ').filter(s => (client.scopes as string[]).includes(s))
  if (grant.issuer !== undefined) {
    const idp = issuers.get(grant.issuer)
    if (idp === undefined || !mayGrantOrg(idp, grant.org)) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', 400, `issuer ${grant.issuer} no longer trusted for org ${grant.org}`)
    }
    allowed = allowed.filter(s => (idp.scopes as string[]).includes(s))
  }
  if (allowed.length === 0) throw new OAuthError('invalid_grant', 'the refresh token no longer grants any scope this client may have', 400, `grant scope ${grant.scope}`)
  return grantedScope(allowed, requested)
}

export function refreshToken (opts: RefreshGrantOptions): Grant<RefreshTokenParams> {
  const issuers = new Map(opts.issuers.map(i => [i.issuer, i]))
  return {
    grantType: 'refresh_token',
    async handle (client, params, nowMs) {
      if (params.refresh_token === undefined) throw new OAuthError('invalid_request', 'missing parameter refresh_token')
      let scope = ''
      // Checked before the token is spent: a refusal here leaves it usable for a request the client may still make.
      const result = await opts.refreshTokens.begin(params.refresh_token, client.client_id, nowMs, grant => { scope = scopeNow(grant, client, issuers, params.scope) })
      const refuse = (refusal: RotateRefusal): never => {
        if (refusal.reason === 'reused') {
          // OAuth 2.0 Security BCP §4.14.2: the family is revoked and its access tokens denied (src/tokens/refresh-tokens.ts).
          audit(opts.log, 'token.refresh_reused', { client_id: client.client_id, org: client.org, detail: `family revoked with ${refusal.revokedAccessTokens?.length ?? 0} access tokens` })
        }
        throw new OAuthError('invalid_grant', REASONS[refusal.reason], 400, refusal.reason)
      }
      if (!result.ok) return refuse(result)
      const { grant } = result
      const spend = async (): Promise<void> => { const refusal = await result.spend(); if (refusal !== undefined) refuse(refusal) }
      // §6: the new refresh token keeps the grant's scope as it was; each refresh narrows the access token anew.
      return {
        subject: grant.subject,
        org: grant.org,
        scope,
        refresh: { scope: grant.scope, ...(grant.issuer === undefined ? {} : { issuer: grant.issuer }), family: { id: result.familyId, expiresAtMs: result.familyExpiresAtMs, spend } }
      }
    }
  }
}
