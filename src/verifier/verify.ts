// Verifies an access token outside a request (introspection, revocation) with the guard's rules and key source.
import { createVerifier } from 'fast-jwt'
import { OAuthError } from '../errors.js'
import type { AccessTokenClaims } from '../tokens/access-token.js'
import type { KeySource } from './guard.js'
import { checkClaims, checkHeader, fastJwtOptions, type VerificationRules } from './rules.js'
import { TokenRefused } from './refusal.js'

/** Claims of a valid token, or an OAuthError invalid_token saying why not. */
export type TokenVerifier = (token: string) => Promise<AccessTokenClaims>

export function createTokenVerifier (rules: VerificationRules, keys: KeySource, clock: () => number): TokenVerifier {
  const verify = createVerifier({
    ...fastJwtOptions(rules),
    key: async ({ header }: { header: Record<string, unknown> }) => {
      const pem = await keys.publicKey(checkHeader(header))
      if (pem === undefined) throw new TokenRefused('unknown_kid', 'token signing key is unknown')
      return pem
    }
  } as Parameters<typeof createVerifier>[0]) as unknown as (token: string) => Promise<Record<string, unknown>>
  return async (token: string) => {
    let payload: Record<string, unknown>
    try {
      payload = await verify(token)
    } catch (err) {
      const e = err as { code?: string, message?: string, originalError?: unknown }
      if (e.originalError instanceof OAuthError) throw e.originalError
      throw new OAuthError('invalid_token', e.code === 'FAST_JWT_EXPIRED' ? 'token has expired' : 'token is invalid', 401, `${e.code ?? 'error'}: ${e.message ?? ''}`)
    }
    return checkClaims(payload, rules, clock())
  }
}
