// Owns the guard's cache of verified access tokens: bounded, keyed by the whole token, never trusted past the
// token's `exp` nor once its signing key is no longer published. It only skips the signature and claim checks
// of a token that already passed them; revocation is still asked on every request by the guard.
import type { AccessTokenClaims } from '../tokens/claims.js'
import type { KeySource } from './key-source.js'

interface Entry {
  readonly claims: AccessTokenClaims
  readonly kid: string
  /** The key that verified the token: a hit needs this same key still published under `kid`. */
  readonly pem: string
  /** `iat`/`nbf` and `exp` in ms, without the clock tolerance: a hit is always inside what a fresh check allows. */
  readonly validFromMs: number
  readonly expiresAtMs: number
}

function headerKid (token: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown }
    return typeof header.kid === 'string' ? header.kid : undefined
  } catch {
    return undefined
  }
}

export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>()
  readonly #maxEntries: number

  /** `maxEntries` 0 turns the cache off. */
  constructor (maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new TypeError(`token cache size must be a non-negative integer, got ${maxEntries}`)
    this.#maxEntries = maxEntries
  }

  get size (): number { return this.#entries.size }

  /**
   * Claims of a token verified earlier, or undefined when the token must be verified (again): never seen,
   * expired at `nowMs` (or not yet valid, should the clock step back), or its key withdrawn (rotation past
   * retention, emergency removal) or replaced.
   */
  async lookup (token: string, nowMs: number, keys: KeySource): Promise<AccessTokenClaims | undefined> {
    const entry = this.#entries.get(token)
    if (entry === undefined) return undefined
    if (nowMs >= entry.expiresAtMs || nowMs < entry.validFromMs || await keys.publicKey(entry.kid) !== entry.pem) {
      this.#entries.delete(token)
      return undefined
    }
    return entry.claims
  }

  /** Remembers a token that has just passed every check, with the key it was verified with. */
  async remember (token: string, claims: AccessTokenClaims, keys: KeySource): Promise<void> {
    if (this.#maxEntries === 0) return
    const kid = headerKid(token)
    if (kid === undefined) return
    const pem = await keys.publicKey(kid)
    if (pem === undefined) return
    if (this.#entries.size >= this.#maxEntries) {
      // Oldest first: Map keeps insertion order, so the first key is the longest-held token.
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    // Frozen: every hit hands the same object to request.user, so one request must not change another's view.
    const nbf = (claims as { nbf?: unknown }).nbf
    const validFromMs = Math.max(claims.iat, typeof nbf === 'number' ? nbf : 0) * 1000
    this.#entries.set(token, { claims: Object.freeze(claims), kid, pem, validFromMs, expiresAtMs: claims.exp * 1000 })
  }
}
