// Verifies an access token outside a Fastify request (introspection, revocation, the Koop plugin) with the guard's
// rules and key source.
import { createVerifier } from 'fast-jwt'
import { OAuthError } from '../shared/errors.js'
import type { AccessTokenClaims } from '../tokens/access-token.js'
import type { KeySource } from './guard.js'
import { checkClaims, checkHeader, fastJwtOptions, type VerificationRules } from './rules.js'
import { TokenRefused } from './refusal.js'
import { VerifiedTokenCache } from './token-cache.js'

/**
 * Claims of a valid token, or a typed refusal: OAuthError invalid_token (TokenRefused carries the reason),
 * or, when the token cannot be judged, the key source's or `isActive`'s own error (APP_JWKS_UNAVAILABLE,
 * APP_INTROSPECTION_UNAVAILABLE).
 */
export type TokenVerifier = (token: string) => Promise<AccessTokenClaims>

export interface TokenVerifierOptions {
  /** How many verified tokens to remember (default 0: every call verifies in full). */
  cacheSize?: number
  /** Asked on every call, cached or not (RFC 7662 introspection): false refuses the token as revoked. */
  isActive?: (token: string) => Promise<boolean>
}

export function createTokenVerifier (rules: VerificationRules, keys: KeySource, clock: () => number, opts: TokenVerifierOptions = {}): TokenVerifier {
  const verify = createVerifier({
    ...fastJwtOptions(rules),
    key: async ({ header }: { header: Record<string, unknown> }) => {
      const pem = await keys.publicKey(checkHeader(header))
      if (pem === undefined) throw new TokenRefused('unknown_kid', 'token signing key is unknown')
      return pem
    }
  } as Parameters<typeof createVerifier>[0]) as unknown as (token: string) => Promise<Record<string, unknown>>
  const cache = new VerifiedTokenCache(opts.cacheSize ?? 0)

  async function verified (token: string): Promise<AccessTokenClaims> {
    const cached = await cache.lookup(token, clock(), keys)
    if (cached !== undefined) return cached
    let payload: Record<string, unknown>
    try {
      payload = await verify(token)
    } catch (err) {
      const e = err as { code?: string, message?: string, originalError?: { code?: unknown } }
      if (e.originalError instanceof OAuthError) throw e.originalError
      // Not the token's fault: the keys to judge it cannot be had, which a caller answers with 503, not 401.
      if (e.originalError?.code === 'APP_JWKS_UNAVAILABLE') throw e.originalError
      throw new OAuthError('invalid_token', e.code === 'FAST_JWT_EXPIRED' ? 'token has expired' : 'token is invalid', 401, `${e.code ?? 'error'}: ${e.message ?? ''}`)
    }
    const claims = checkClaims(payload, rules, clock())
    await cache.remember(token, claims, keys)
    return claims
  }

  if (opts.isActive === undefined) return verified
  const isActive = opts.isActive
  return async (token: string) => {
    const claims = await verified(token)
    if (!await isActive(token)) throw new TokenRefused('revoked', 'token is no longer active')
    return claims
  }
}
