// Owns the translation of the JWT library's (fast-jwt's) error codes into refusal reasons: by code, never by message.
import { TokenError, type TokenValidationErrorCode } from 'fast-jwt'
import type { RefusalReason } from './refusal.js'

/**
 * Every code fast-jwt has, so that a code added by an upgrade is noticed (test/verifier/core.test.ts fails) and
 * given its reason here. Codes a verification cannot raise with our options (signing, options, a missing key)
 * are `invalid`: they would mean a bug of ours, not a fault of the token.
 * aud and iss are checked by the core itself (their mismatch shares INVALID_CLAIM_VALUE with other claims).
 */
export const LIBRARY_CODES: Readonly<Record<TokenValidationErrorCode, RefusalReason>> = {
  FAST_JWT_MALFORMED: 'malformed',
  FAST_JWT_INVALID_PAYLOAD: 'malformed',
  FAST_JWT_INVALID_KEY: 'malformed',
  FAST_JWT_INVALID_TYPE: 'wrong_type',
  FAST_JWT_INVALID_ALGORITHM: 'bad_algorithm',
  FAST_JWT_INVALID_CRIT_HEADER: 'forbidden_header',
  FAST_JWT_MISSING_SIGNATURE: 'unsigned',
  FAST_JWT_INVALID_SIGNATURE: 'bad_signature',
  FAST_JWT_VERIFY_ERROR: 'bad_signature',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'missing_claim',
  FAST_JWT_INVALID_CLAIM_TYPE: 'bad_claims',
  FAST_JWT_INVALID_CLAIM_VALUE: 'bad_claims',
  FAST_JWT_INACTIVE: 'not_yet_valid',
  FAST_JWT_EXPIRED: 'expired',
  FAST_JWT_MISSING_KEY: 'invalid',
  FAST_JWT_KEY_FETCHING_ERROR: 'invalid',
  FAST_JWT_INVALID_OPTION: 'invalid',
  FAST_JWT_SIGN_ERROR: 'invalid'
}

/** The reason for a fast-jwt TokenError, or undefined for anything else (our own errors, bugs). */
export function libraryReason (err: unknown): RefusalReason | undefined {
  if (!(err instanceof TokenError)) return undefined
  return Object.hasOwn(LIBRARY_CODES, err.code) ? LIBRARY_CODES[err.code as TokenValidationErrorCode] : 'invalid'
}
