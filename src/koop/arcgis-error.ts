// Owns the errors the Koop plugin throws and the ArcGIS REST error bodies they become.
//
// Koop's geoservices output (@koopjs/output-geoservices 8.x, GeoServices#errorHandler) reads `error.code` and
// always answers HTTP 200 (the ArcGIS convention) with a body chosen by that code:
//   499 → {code: 499, message: 'Token Required', messageCode: 'GWM_0003'}   (ArcGIS clients ask for credentials)
//   498 → {code: 498, message: 'Invalid token.'}                            (clients drop the token and get another)
//   403 → {code: 400, messageCode: 'CONT_0001', message: 'Item does not exist or is inaccessible.'}
//   any other code → {code, message, details} as thrown.
// Its generateToken route answers code 401 with {code: 400, message: 'Unable to generate token.'}.
// Our messages are what Koop logs (never a token); the fixed bodies are what clients see.
import { OAuthError } from '../shared/errors.js'
import { refusalReason, type RefusalReason } from '../verifier/refusal.js'

export type ArcgisCode = 400 | 401 | 403 | 429 | 498 | 499 | 500 | 503

/** Why a request was refused: the verifier's reasons plus what only a Koop request can get wrong. */
export type KoopRefusalReason = RefusalReason | 'ambiguous' | 'insufficient_scope' | 'keys_unavailable' | 'introspection_unavailable'
  | 'bad_credentials' | 'credentials_in_url' | 'issuer_refused' | 'issuer_unavailable' | 'rate_limited' | 'misconfigured'

export class KoopAuthError extends Error {
  /** What Koop's geoservices output reads to pick the ArcGIS answer. */
  readonly code: ArcgisCode
  readonly reason: KoopRefusalReason
  /** Sent by Koop with codes it does not rewrite (400, 429, 500, 503). */
  readonly details: string[]

  constructor (code: ArcgisCode, reason: KoopRefusalReason, message: string, details: string[] = []) {
    super(message)
    this.name = 'KoopAuthError'
    this.code = code
    this.reason = reason
    this.details = details
  }
}

export const tokenRequired = (): KoopAuthError => new KoopAuthError(499, 'missing', 'geotoken: token required')

export const invalidToken = (reason: KoopRefusalReason): KoopAuthError => new KoopAuthError(498, reason, `geotoken: invalid token (${reason})`)

export const missingScope = (scope: string): KoopAuthError =>
  new KoopAuthError(403, 'insufficient_scope', `geotoken: the token lacks scope ${scope}`, [`this request needs scope ${scope}`])

export const unavailable = (reason: KoopRefusalReason, message: string): KoopAuthError =>
  new KoopAuthError(503, reason, message, ['retry later'])

/** The refusal a verifier error means to Koop; errors that are not refusals (bugs) are returned unchanged. */
export function fromVerifier (err: unknown): unknown {
  if (err instanceof KoopAuthError) return err
  if (err instanceof OAuthError) return invalidToken(refusalReason(err))
  // Not the token's fault: it cannot be judged now. A 498 would make ArcGIS clients throw a good token away.
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'APP_JWKS_UNAVAILABLE') return unavailable('keys_unavailable', 'the keys to verify the token are unavailable; retry later')
  if (code === 'APP_INTROSPECTION_UNAVAILABLE') return unavailable('introspection_unavailable', 'the token issuer could not confirm the token; retry later')
  return err
}

interface ArcgisErrorBody { error: { code: number, message: string, messageCode?: string, details: string[] } }

/**
 * The ArcGIS REST error body for a refusal, for routes a provider defines itself (edits): Koop's geoservices
 * output only formats errors on its own routes. Send it with HTTP 200, as ArcGIS servers do.
 */
export function arcgisError (err: unknown): ArcgisErrorBody {
  if (!(err instanceof KoopAuthError)) return { error: { code: 500, message: 'Internal error.', details: [] } }
  switch (err.code) {
    case 499: return { error: { code: 499, message: 'Token Required', messageCode: 'GWM_0003', details: ['Token Required'] } }
    case 498: return { error: { code: 498, message: 'Invalid token.', details: [] } }
    // What ArcGIS Server answers an edit the user may not make.
    case 403: return { error: { code: 403, message: 'You do not have permissions to access this resource or perform this operation.', details: err.details } }
    default: return { error: { code: err.code, message: err.message, details: err.details } }
  }
}
