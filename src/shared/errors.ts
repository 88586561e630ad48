// Every error geotoken raises: operator-facing APP_* codes and the OAuth protocol error.
import createError from '@fastify/error'

export const ConfigInvalid = createError('APP_CONFIG_INVALID', 'invalid configuration: %s', 500)
export const KeyStoreCorrupt = createError('APP_KEYS_CORRUPT', 'key store %s is unreadable or corrupt: %s', 500)
export const StoreLocked = createError('APP_STORE_LOCKED', '%s is locked by another process (%s)', 500)
export const ClientStoreCorrupt = createError('APP_CLIENTS_CORRUPT', 'client store %s is unreadable or corrupt: %s', 500)
export const ClientInvalid = createError('APP_CLIENTS_INVALID', 'invalid client: %s', 500)
export const KekInvalid = createError('APP_KEK_INVALID', 'key-encryption key: %s', 500)
export const KekMismatch = createError('APP_KEK_MISMATCH', 'key-encryption key: %s', 500)
/** A compare-and-set on a Redis document lost: another writer changed it since it was read. */
export const StoreConflict = createError('APP_STORE_CONFLICT', '%s changed while this command ran (%s): nothing was written', 409)

export const JwksUnavailable = createError('APP_JWKS_UNAVAILABLE', 'key set %s is unavailable: %s', 503)
export const VerifierOptionsInvalid = createError('APP_VERIFIER_OPTIONS', 'geotoken verifier: %s', 500)
export const IntrospectionUnavailable = createError('APP_INTROSPECTION_UNAVAILABLE', 'the issuer could not confirm the token: %s', 503)
export const TrustedIssuersInvalid = createError('APP_TRUSTED_ISSUERS_INVALID', 'trusted issuers file %s is invalid: %s', 500)

/**
 * A token-state change (revocation, refresh rotation, used assertion) or lookup the backend could not make durable
 * or answer: a full disk, an I/O error, another process holding the store too long, an engine that is down. Nothing
 * was acknowledged; the token endpoints answer 503 temporarily_unavailable with Retry-After. Retryable.
 */
export const TokenStateUnavailable = createError('APP_TOKEN_STATE_UNAVAILABLE', 'the token state store cannot answer: %s', 503)
/** The token-state store cannot be opened at start-up: not a database, damaged, or written by a newer geotoken. */
export const TokenStateCorrupt = createError('APP_TOKEN_STATE_CORRUPT', 'token state store %s cannot be opened: %s', 500)
/**
 * Redis did not answer in time, refused the command for a passing reason (loading, read-only replica, persistence
 * failing), or is not connected. Retryable: the caller answers 503 with Retry-After, never 500.
 */
export const RedisUnavailable = createError('APP_REDIS_UNAVAILABLE', 'Redis is unavailable: %s', 503)

export const FeatureStoreCorrupt = createError('APP_FEATURES_CORRUPT', 'feature store %s is damaged: %s', 500)
/** The feature store has one writer: a second process on the same directory (the same DATA_DIR) is refused at start-up. */
export const FeatureStoreLocked = createError('APP_FEATURES_LOCKED', 'feature store %s is in use by another process (%s): two geotoken processes cannot share one DATA_DIR. Stop the other process, or give this one a DATA_DIR of its own', 500)
export const SeedInvalid = createError('APP_FEATURES_SEED_INVALID', 'seed file %s is invalid: %s', 500)
/** A feature write the store refused: its append failed (and was cut back), or the journal is fenced. Retryable. */
export const FeatureStoreUnavailable = createError('APP_FEATURES_UNAVAILABLE', 'the feature store cannot accept writes: %s', 503)
/** The PostGIS collections file is invalid, or does not match the database catalog (names the collection, table, column). */
export const CollectionsInvalid = createError('APP_FEATURES_COLLECTIONS_INVALID', 'collections file %s: %s', 500)
/** A published table is not protected as geotoken requires (row-level security, the connecting role): start-up stops. */
export const TenancyUnsafe = createError('APP_FEATURES_TENANCY_UNSAFE', 'refusing to serve %s: %s', 500)
/** The feature database cannot be reached or did not answer in time. Retryable. */
export const DatabaseUnavailable = createError('APP_FEATURES_DATABASE_UNAVAILABLE', 'the feature database is unavailable: %s', 503)

/**
 * An RFC 9457 problem for the feature API. `param` names the offending query parameter or body member.
 */
export class Problem extends Error {
  readonly status: number
  readonly title: string
  readonly param: string | undefined
  /** Seconds a client should wait before retrying (the Retry-After of a 503). */
  readonly retryAfterS: number | undefined

  constructor (status: number, title: string, detail: string, param?: string, retryAfterS?: number) {
    super(detail)
    this.name = 'Problem'
    this.status = status
    this.title = title
    this.param = param
    this.retryAfterS = retryAfterS
  }
}

export const notFound = (detail: string): Problem => new Problem(404, 'Not Found', detail)
export const badParameter = (param: string, detail: string): Problem => new Problem(400, 'Bad Request', `${param}: ${detail}`, param)

/** A feature store's answer for a feature its org does not have (missing, or another org's): 404. */
export class FeatureNotFound extends Problem {
  readonly code = 'APP_FEATURES_NOT_FOUND'
  constructor (collection: string, id: string) {
    super(404, 'Not Found', `no feature ${id} in collection ${collection}`)
  }
}

/** A feature store's answer for an If-Match that did not match; a list of only weak tags never can, and is told so. */
export class FeaturePreconditionFailed extends Problem {
  readonly code = 'APP_FEATURES_PRECONDITION_FAILED'
  constructor (ifMatch?: string) {
    super(412, 'Precondition Failed', ifMatch !== undefined && ifMatch.split(',').every(tag => tag.trim().startsWith('W/'))
      ? 'If-Match carries only weak ETags (W/"…"), and a weak ETag never matches If-Match (RFC 9110 §13.1.1, strong comparison): send the ETag header of the feature as it is (geotoken\'s ETags are strong)'
      : 'the feature has changed since the ETag in If-Match: fetch it again and reapply your change')
  }
}

/** RFC 6749 §5.2 and RFC 6750 §3.1 error codes. */
export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client'
  | 'unsupported_grant_type' | 'invalid_scope' | 'invalid_token' | 'insufficient_scope'
  | 'temporarily_unavailable' | 'unsupported_token_type'

/**
 * A protocol error. `message` is the public error_description; `detail` goes to logs only,
 * so the reason a signature failed never reaches an attacker.
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode
  readonly statusCode: number
  readonly detail: string | undefined
  /** Seconds before a retry may succeed: sent as Retry-After (a 503 temporarily_unavailable). */
  readonly retryAfterS: number | undefined

  constructor (error: OAuthErrorCode, description: string, statusCode = 400, detail?: string, retryAfterS?: number) {
    super(description)
    this.name = 'OAuthError'
    this.error = error
    this.statusCode = statusCode
    this.detail = detail
    this.retryAfterS = retryAfterS
  }
}
