// Owns the short machine label for why an access token was refused (metrics, audit).
import { OAuthError } from '../shared/errors.js'

export type RefusalReason = 'missing' | 'malformed' | 'expired' | 'not_yet_valid' | 'issued_in_future' | 'bad_lifetime'
  | 'bad_signature' | 'unsigned' | 'unknown_kid' | 'wrong_audience' | 'wrong_issuer' | 'wrong_type' | 'bad_algorithm'
  | 'forbidden_header' | 'missing_claim' | 'bad_claims' | 'revoked' | 'invalid'

/**
 * An access token refused, with the reason as a label (metrics, audit) next to the public text. Every refusal of
 * the verification core is one: the library's errors are translated by code in library-codes.ts.
 */
export class TokenRefused extends OAuthError {
  readonly reason: RefusalReason

  constructor (reason: RefusalReason, description: string, detail?: string) {
    super('invalid_token', description, 401, detail)
    this.reason = reason
  }
}

/** The refusal reason of an access-token error; `invalid` for an invalid_token raised outside the core. */
export function refusalReason (err: OAuthError): RefusalReason {
  return err instanceof TokenRefused ? err.reason : 'invalid'
}
