// Owns requireActive's short memory of positive introspection answers: keyed by a hash of the token, bounded,
// and never trusted past the token's exp (RFC 7662 §4: a cached response must not outlive the token's expiry).
import { createHash } from 'node:crypto'

const hash = (token: string): string => createHash('sha256').update(token).digest('base64url')

/**
 * Only `active: true` answers are kept: a negative answer is final for the token anyway, and caching it could
 * only hide a transient refusal. A revocation is seen at most `ttlMs` late; 0 remembers nothing.
 */
export class ActiveAnswers {
  readonly #until = new Map<string, number>()
  readonly #ttlMs: number
  readonly #maxEntries: number

  constructor (ttlMs: number, maxEntries = 10_000) {
    this.#ttlMs = ttlMs
    this.#maxEntries = maxEntries
  }

  /** Whether the issuer said this token was active less than `ttlMs` ago, and it has not expired since. */
  has (token: string, nowMs: number): boolean {
    if (this.#ttlMs === 0) return false
    const key = hash(token)
    const until = this.#until.get(key)
    if (until === undefined) return false
    if (nowMs < until) return true
    this.#until.delete(key)
    return false
  }

  /** Remembers an `active: true` answer for a token expiring at `expS` (its verified exp, in seconds). */
  remember (token: string, expS: number, nowMs: number): void {
    if (this.#ttlMs === 0) return
    const until = Math.min(nowMs + this.#ttlMs, expS * 1000)
    if (until <= nowMs) return
    if (this.#until.size >= this.#maxEntries) {
      // Oldest first (Map keeps insertion order); every entry is at most ttlMs old, so this is the soonest to lapse.
      const oldest = this.#until.keys().next()
      if (oldest.done !== true) this.#until.delete(oldest.value)
    }
    this.#until.set(hash(token), until)
  }

  get size (): number { return this.#until.size }
}

/**
 * RFC 7662 introspection with that memory: whether `token` is active, asking `introspect` unless an `active: true`
 * answer younger than `ttlMs` is remembered. `expS` is the token's verified exp; without it nothing is remembered.
 * Errors of `introspect` (APP_INTROSPECTION_UNAVAILABLE) pass through: callers fail closed.
 * Shared by the remote verifier's requireActive and the Koop plugin.
 */
export function activeCheck (introspect: (token: string) => Promise<boolean>, ttlMs: number, clock: () => number): (token: string, expS: number | undefined) => Promise<boolean> {
  const answers = new ActiveAnswers(ttlMs)
  return async function isActive (token, expS) {
    if (answers.has(token, clock())) return true
    const active = await introspect(token)
    if (active && expS !== undefined) answers.remember(token, expS, clock())
    return active
  }
}
