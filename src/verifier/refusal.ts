// Owns the short machine label for why an access token was refused (metrics, audit), from our error or the JWT library's.
import { OAuthError } from '../shared/errors.js'

export type RefusalReason = 'missing' | 'malformed' | 'expired' | 'not_yet_valid' | 'issued_in_future' | 'bad_lifetime'
  | 'bad_signature' | 'unsigned' | 'unknown_kid' | 'wrong_audience' | 'wrong_issuer' | 'wrong_type' | 'bad_algorithm'
  | 'forbidden_header' | 'missing_claim' | 'bad_claims' | 'revoked' | 'invalid'

/** An access token refused by our own rules, with the reason as a label (metrics, audit) next to the public text. */
export class TokenRefused extends OAuthError {
  readonly reason: RefusalReason

  constructor (reason: RefusalReason, description: string, detail?: string) {
    super('invalid_token', description, 401, detail)
    this.reason = reason
  }
}

/**
 * @fastify/jwt folds several fast-jwt codes into FST_JWT_AUTHORIZATION_TOKEN_INVALID and keeps fast-jwt's
 * message ("…: The aud claim value is not allowed."), so the detail `CODE: message` is read in that order.
 */
const LIBRARY: ReadonlyArray<[RegExp, RefusalReason]> = [
  [/EXPIRED/, 'expired'],
  [/FAST_JWT_INACTIVE|not active yet/i, 'not_yet_valid'],
  [/signature is invalid|INVALID_SIGNATURE/, 'bad_signature'],
  [/UNSIGNED|MISSING_SIGNATURE/, 'unsigned'],
  [/\baud claim/, 'wrong_audience'],
  [/\biss claim/, 'wrong_issuer'],
  [/claim is required|MISSING_REQUIRED_CLAIM/, 'missing_claim'],
  [/INVALID_CLAIM_TYPE|claim value|claim type/, 'bad_claims'],
  [/INVALID_TYPE|Invalid typ/, 'wrong_type'],
  [/INVALID_ALGORITHM/, 'bad_algorithm'],
  [/CRIT_HEADER/, 'forbidden_header'],
  [/MALFORMED|malformed|INVALID_PAYLOAD|INVALID_KEY|must be a string/, 'malformed']
]

/** The refusal reason of an access-token error raised by the guard; `invalid` when nothing more precise is known. */
export function refusalReason (err: OAuthError): RefusalReason {
  if (err instanceof TokenRefused) return err.reason
  const detail = err.detail ?? ''
  for (const [pattern, reason] of LIBRARY) if (pattern.test(detail)) return reason
  return 'invalid'
}
