// Owns the short machine label for why an access token was refused (metrics, audit), from our error or the JWT library's.
import type { OAuthError } from '../errors.js'

export type RefusalReason = 'missing' | 'malformed' | 'expired' | 'not_yet_valid' | 'issued_in_future' | 'bad_lifetime'
  | 'bad_signature' | 'unsigned' | 'unknown_kid' | 'wrong_audience' | 'wrong_issuer' | 'wrong_type' | 'bad_algorithm'
  | 'forbidden_header' | 'missing_claim' | 'bad_claims' | 'revoked' | 'invalid'

// Our own refusals (src/verifier/rules.ts, guard.ts), by their public description.
const OURS: Readonly<Record<string, RefusalReason>> = {
  'Authorization header is not "Bearer <token>"': 'malformed',
  'token has no valid kid': 'malformed',
  'token signing key is unknown': 'unknown_kid',
  'token algorithm is not allowed': 'bad_algorithm',
  'token is not an at+jwt access token': 'wrong_type',
  'token header is not accepted': 'forbidden_header',
  'token claims are malformed': 'bad_claims',
  'token was issued in the future': 'issued_in_future',
  'token lifetime exceeds what the issuer grants': 'bad_lifetime',
  'token has been revoked': 'revoked',
  'token has expired': 'expired'
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
  const ours = OURS[err.message]
  if (ours !== undefined && ours !== 'expired') return ours
  const detail = err.detail ?? ''
  for (const [pattern, reason] of LIBRARY) if (pattern.test(detail)) return reason
  return ours ?? 'invalid'
}
