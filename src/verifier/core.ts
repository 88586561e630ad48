// Owns the verification of geotoken access tokens, the one path every consumer takes: the in-process guard, the
// remote verifier, introspection and revocation, the Koop plugin. Header rules, key lookup and signature (jws.ts),
// claim rules (rules.ts), the verified-token cache (token-cache.ts), then the revocation hook.
import type { AccessTokenClaims } from '../tokens/claims.js'
import { jwsVerifier } from './jws.js'
import type { KeySource } from './key-source.js'
import { TokenRefused } from './refusal.js'
import { accessTokenProfile, checkClaims, type VerificationRules } from './rules.js'
import { VerifiedTokenCache } from './token-cache.js'

/**
 * Claims of a valid token, or a typed refusal: TokenRefused (OAuthError invalid_token with its reason), or,
 * when the token cannot be judged, the key source's or the revocation hook's own error
 * (APP_JWKS_UNAVAILABLE, APP_INTROSPECTION_UNAVAILABLE).
 */
export type TokenVerifier = (token: string) => Promise<AccessTokenClaims>

export interface VerifierCoreOptions extends VerificationRules {
  keys: KeySource
  clock: () => number
  /** How many verified tokens to remember (0: every call verifies in full). */
  cacheSize: number
  /**
   * Asked on every call, cached or not, after every other check: true refuses the token as `revoked`
   * (a jti deny-list, or RFC 7662 introspection).
   */
  isRevoked?: (claims: AccessTokenClaims, token: string) => boolean | Promise<boolean>
}

export function createVerifierCore (opts: VerifierCoreOptions): TokenVerifier {
  const { keys, clock, isRevoked } = opts
  const jws = jwsVerifier(accessTokenProfile(opts), async kid => await keys.publicKey(kid))
  // A client reuses its token for minutes: its signature is checked once, not on every request.
  const cache = new VerifiedTokenCache(opts.cacheSize)

  return async function verify (token: string): Promise<AccessTokenClaims> {
    let claims = await cache.lookup(token, clock(), keys)
    const fresh = claims === undefined
    if (claims === undefined) claims = checkClaims((await jws(token)).payload, opts, clock())
    if (isRevoked !== undefined && await isRevoked(claims, token)) throw new TokenRefused('revoked', 'token has been revoked')
    if (fresh) await cache.remember(token, claims, keys)
    return claims
  }
}
