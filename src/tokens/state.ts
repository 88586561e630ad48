// Owns the token-state contracts: what every backend stores and guarantees (in memory, in SQLite; Redis next,
// issue 16). Each operation is one atomic step of the store, so the rules above it (refresh-tokens.ts,
// oauth/lockout.ts) never read, decide and write back in separate steps that a second instance could interleave.
// Every operation is async, whatever the backend: a caller never learns which one it has.
import type { RateLimitPluginOptions } from '@fastify/rate-limit'

/** Revoked access tokens by jti, each until its expiry: every guard and introspection refuses them. */
export interface DenyList {
  /** Denies `jti` until `expiresAtMs` (exclusive): false when it already was. An expiry already past stores nothing. */
  add: (jti: string, expiresAtMs: number) => Promise<boolean>
  /** True while `jti` is denied. Asked on every guarded request: a shared backend answers from a local copy. */
  has: (jti: string) => Promise<boolean>
}

/** `iss|jti` of jwt-bearer assertions already exchanged (RFC 7523 §3 item 7), each until the assertion expires. */
export interface UsedAssertions {
  /**
   * Records `id` until `expiresAtMs` unless it is present: true the first time, false for a replay. One atomic
   * set-if-absent, so two concurrent exchanges of one assertion get exactly one true. A past expiry stores nothing.
   */
  add: (id: string, expiresAtMs: number) => Promise<boolean>
}

/** What a refresh token stands for: the grant it continues. */
export interface RefreshGrant {
  clientId: string
  org: string
  subject: string
  /** The grant's scope; every refresh intersects it with what the client (and `issuer`) allow at that time. */
  scope: string
  /** The identity provider whose assertion started the grant (jwt-bearer), asked again at every refresh. */
  issuer?: string
}

export interface RefreshRecord extends RefreshGrant {
  /** SHA-256 of the token: the token itself is never stored. */
  hash: string
  familyId: string
  /** The absolute deadline of the whole family, inherited by every rotated token. */
  familyExpiresAtMs: number
  issuedAtMs: number
  expiresAtMs: number
  used: boolean
}

/** An access token minted from a family: denied with it if the family is revoked. */
export interface FamilyAccessToken { jti: string, expiresAtMs: number }

/**
 * Refresh tokens grouped in families (one per grant, OAuth 2.0 Security BCP §4.14.2). A backend may forget a
 * family and its tokens once `familyExpiresAtMs` has passed, never before: reuse of a spent token must be seen
 * until then.
 */
export interface RefreshFamilies {
  get: (hash: string) => Promise<RefreshRecord | undefined>
  /** Stores a token and creates its family unless it exists: a rotation never revives a revoked family. */
  put: (record: RefreshRecord) => Promise<void>
  /**
   * Marks the token used; false when it already was or is unknown (the caller treats that as reuse and revokes the
   * family). A backend may revoke the family itself in the same atomic step when it answers false for a known token,
   * so that no crash falls between detecting the reuse and acting on it (the SQLite backend does).
   */
  markUsed: (hash: string) => Promise<boolean>
  /**
   * Records an access token minted from the family. When the family is revoked (or gone) the token is put on the
   * backend's deny-list instead, in the same atomic step, and the answer is false. Atomic with revokeFamily, so
   * every access token minted from a family that is revoked is denied, whichever of the two came first.
   */
  addAccessToken: (familyId: string, jti: string, expiresAtMs: number) => Promise<boolean>
  /**
   * Revokes every token of the family and puts its unexpired access tokens on the backend's deny-list, in one
   * atomic step; returns those access tokens. Asked again, it answers (and denies) them again; an unknown family
   * gives [].
   */
  revokeFamily: (familyId: string) => Promise<FamilyAccessToken[]>
  isFamilyRevoked: (familyId: string) => Promise<boolean>
}

/** A key's consecutive failed authentications and when the last one happened. */
export interface FailureCount { count: number, lastMs: number }

/** The counts behind the failed-authentication lockout; the policy (oauth/lockout.ts) decides what they mean. */
export interface LockoutStore {
  /**
   * Counts one more failure of `key` at `nowMs`, in one atomic step (concurrent failures are all counted); a count
   * whose last failure is more than `forgetMs` before `nowMs` is forgotten first. Resolves to the count with this one.
   */
  addFailure: (key: string, nowMs: number, forgetMs: number) => Promise<number>
  /** The key's count, or undefined when it has none or its last failure is more than `forgetMs` ago. */
  failures: (key: string, nowMs: number, forgetMs: number) => Promise<FailureCount | undefined>
  clearFailures: (key: string) => Promise<void>
  /** Remembers a (client, source) pair that authenticated. A backend may forget the least recent ones. */
  addKnown: (key: string) => Promise<void>
  isKnown: (key: string) => Promise<boolean>
}

/**
 * Where @fastify/rate-limit keeps its counters: its own `store`/`redis`/`nameSpace` options. Empty is its in-process
 * LocalStore (per app instance); a shared backend names its Redis client, so N instances allow the rate once.
 */
export type RateLimitStoreOptions = Pick<RateLimitPluginOptions, 'store' | 'redis' | 'nameSpace'>

/**
 * Where token state lives, the STATE_STORE setting: 'embedded' is SQLite in DATA_DIR (the default: durable),
 * 'memory' keeps nothing on disk and forgets everything on restart (tests, benchmarks), 'redis' is shared by every
 * instance (REDIS_URL).
 */
export const STATE_STORES = ['embedded', 'memory', 'redis'] as const
export type StateStore = typeof STATE_STORES[number]

/** The backends that exist, as a backend names itself. */
export type TokenStateKind = 'memory' | 'sqlite' | 'redis'

/** Every piece of token state, from one backend chosen at start-up. */
export interface TokenStateBackend {
  readonly kind: TokenStateKind
  readonly revoked: DenyList
  readonly refreshFamilies: RefreshFamilies
  readonly usedAssertions: UsedAssertions
  readonly lockouts: LockoutStore
  readonly rateLimits: RateLimitStoreOptions
  /**
   * For /ready: 'ok', or why the backend serves in part (e.g. 'degraded: ...' while a shared store is unreachable).
   * Absent for a backend that is always whole (memory).
   */
  readonly status?: () => string
  /** Releases what the backend holds open (connections, files); the state itself stays. */
  close: () => Promise<void>
}
