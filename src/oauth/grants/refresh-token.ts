// Owns the refresh_token grant (RFC 6749 §6): one use per token, rotation within the family, reuse revokes all.
import { OAuthError } from '../../errors.js'
import type { ExpiringIdSet } from '../../tokens/expiring-set.js'
import type { RefreshTokens } from '../../tokens/refresh-tokens.js'
import type { Log } from '../../keys/store.js'
import { audit } from '../../ops/audit.js'
import { grantedScope } from './client-credentials.js'
import type { Grant } from './grant.js'

export interface RefreshGrantOptions { refreshTokens: RefreshTokens, revoked: ExpiringIdSet, log: Log }

const REASONS = {
  unknown: 'the refresh token is invalid',
  wrong_client: 'the refresh token is invalid',
  expired: 'the refresh token has expired',
  revoked: 'the refresh token has been revoked',
  reused: 'the refresh token was already used; its whole family is now revoked'
} as const

export function refreshToken (opts: RefreshGrantOptions): Grant {
  return {
    grantType: 'refresh_token',
    async handle (client, params, nowMs) {
      if (params.refresh_token === undefined) throw new OAuthError('invalid_request', 'missing parameter refresh_token')
      const result = await opts.refreshTokens.rotate(params.refresh_token, client.client_id, nowMs)
      if (!result.ok) {
        if (result.reason === 'reused') {
          // OAuth 2.0 Security BCP §4.14.2: a replayed refresh token means it leaked; nothing of the family stays valid.
          for (const t of result.revokedAccessTokens ?? []) await opts.revoked.add(t.jti, t.expiresAtMs)
          audit(opts.log, 'token.refresh_reused', { client_id: client.client_id, org: client.org, detail: `family revoked with ${result.revokedAccessTokens?.length ?? 0} access tokens` })
        }
        throw new OAuthError('invalid_grant', REASONS[result.reason], 400, result.reason)
      }
      const { grant } = result
      if (grant.org !== client.org) throw new OAuthError('invalid_grant', 'the refresh token is invalid', 400, 'org changed')
      // §6: a narrower scope may be asked for the access token; the new refresh token keeps the original one.
      const scope = grantedScope(grant.scope.split(' '), params.scope)
      return { subject: grant.subject, org: grant.org, scope, refresh: { scope: grant.scope, family: { id: result.familyId, expiresAtMs: result.familyExpiresAtMs } } }
    }
  }
}
