// Owns the failed-authentication lockout: per presented client id, exponential, bounded memory (pure, no Fastify).

export interface LockoutOptions {
  /** Consecutive failures before the first lockout. */
  after: number
  /** First lockout (ms); each further failure doubles it. */
  baseMs: number
  /** Longest lockout (ms). */
  maxMs: number
  /** Most client ids remembered; the least recently failed are forgotten first (ids are attacker-chosen). */
  maxEntries?: number
  clock?: () => number
}

interface Entry { failures: number, lockedUntil: number, lastFailure: number }

/**
 * Keyed by the client id as presented, whether or not such a client exists: an unknown id locks out exactly like
 * a known one, so lockouts reveal nothing about which ids are registered.
 */
export class FailureLockout {
  readonly #entries = new Map<string, Entry>()
  readonly #opts: Required<LockoutOptions>

  constructor (opts: LockoutOptions) {
    this.#opts = { maxEntries: 10_000, clock: Date.now, ...opts }
  }

  /** Milliseconds this client id stays locked out; 0 when it may try now. */
  lockedFor (clientId: string): number {
    const entry = this.#entries.get(clientId)
    if (entry === undefined) return 0
    const now = this.#opts.clock()
    // Forgotten once a full maximum lockout has passed since the last failure: old mistakes do not accumulate.
    if (now - entry.lastFailure > Math.max(this.#opts.maxMs, entry.lockedUntil - entry.lastFailure) * 2) {
      this.#entries.delete(clientId)
      return 0
    }
    return Math.max(0, entry.lockedUntil - now)
  }

  /** Records a failure; returns the lockout it starts (ms), 0 while under the threshold. */
  fail (clientId: string): number {
    const now = this.#opts.clock()
    this.lockedFor(clientId) // forgets a stale record first
    const previous = this.#entries.get(clientId)
    const failures = (previous?.failures ?? 0) + 1
    const over = failures - this.#opts.after
    const lockMs = over < 0 ? 0 : Math.min(this.#opts.maxMs, this.#opts.baseMs * 2 ** Math.min(over, 30))
    this.#entries.delete(clientId) // re-insert: Map order is the eviction order
    this.#entries.set(clientId, { failures, lockedUntil: now + lockMs, lastFailure: now })
    if (this.#entries.size > this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    return lockMs
  }

  /** A successful authentication clears the record. */
  succeed (clientId: string): void { this.#entries.delete(clientId) }

  get size (): number { return this.#entries.size }
}
