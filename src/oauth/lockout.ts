// Owns the failed-authentication lockout: per client id and source address, plus a per-client budget across
// sources that never blocks a source the client has authenticated from (pure, no Fastify, bounded memory).

export interface LockoutOptions {
  /** Consecutive failures before the first lockout. */
  after: number
  /** First lockout (ms); each further failure doubles it. */
  baseMs: number
  /** Longest lockout (ms). */
  maxMs: number
  /** Most keys remembered; the least recently failed are forgotten first (keys are attacker-chosen). */
  maxEntries?: number
  clock?: () => number
}

interface Entry { failures: number, lockedUntil: number, lastFailure: number }

/** Exponential lockout of one key after consecutive failures. */
export class FailureLockout {
  readonly #entries = new Map<string, Entry>()
  readonly #opts: Required<LockoutOptions>

  constructor (opts: LockoutOptions) {
    this.#opts = { maxEntries: 10_000, clock: Date.now, ...opts }
  }

  /** Milliseconds this key stays locked out; 0 when it may try now. */
  lockedFor (key: string): number {
    const entry = this.#entries.get(key)
    if (entry === undefined) return 0
    const now = this.#opts.clock()
    // Forgotten once a full maximum lockout has passed since the last failure: old mistakes do not accumulate.
    if (now - entry.lastFailure > Math.max(this.#opts.maxMs, entry.lockedUntil - entry.lastFailure) * 2) {
      this.#entries.delete(key)
      return 0
    }
    return Math.max(0, entry.lockedUntil - now)
  }

  /** Records a failure; returns the lockout it starts (ms), 0 while under the threshold. */
  fail (key: string): number {
    const now = this.#opts.clock()
    this.lockedFor(key) // forgets a stale record first
    const previous = this.#entries.get(key)
    const failures = (previous?.failures ?? 0) + 1
    const over = failures - this.#opts.after
    const lockMs = over < 0 ? 0 : Math.min(this.#opts.maxMs, this.#opts.baseMs * 2 ** Math.min(over, 30))
    this.#entries.delete(key) // re-insert: Map order is the eviction order
    this.#entries.set(key, { failures, lockedUntil: now + lockMs, lastFailure: now })
    if (this.#entries.size > this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest !== undefined) this.#entries.delete(oldest)
    }
    return lockMs
  }

  /** A success clears the record. */
  succeed (key: string): void { this.#entries.delete(key) }

  get size (): number { return this.#entries.size }
}

export interface ClientLockoutOptions {
  /** Consecutive failures for one client id from one source before that pair is locked out. */
  perSource: number
  /** Failures for one client id from all sources before sources it never authenticated from are locked out too. */
  perClient: number
  baseMs: number
  maxMs: number
  /** Bound of each of the three maps (pairs, client ids, known pairs). */
  maxEntries?: number
  clock?: () => number
}

/**
 * Keyed by the client id as presented, whether or not such a client exists, so lockouts reveal nothing about
 * which ids are registered. Two layers (issue 13):
 * - per (client id, source): wrong secrets from one address lock out that address's attempts at that client,
 *   never the client itself: nobody elsewhere can lock a resource server out of its own endpoint.
 * - per client id, across sources: an attacker rotating addresses gets `perClient` guesses, then every source
 *   that has not authenticated as this client before waits too (exponentially, like the first layer). Sources
 *   that have are exempt, so the budget slows guessing without ever blocking the client where it already runs.
 *   The price: while such an attack lasts, the client's first request from a new address (a new replica)
 *   waits as well.
 * The client's successes never reset the per-client count (they would reset the attacker's budget); it is
 * forgotten after a quiet spell of twice the longest lockout, like the per-source one.
 */
export class ClientLockout {
  readonly #bySource: FailureLockout
  readonly #byClient: FailureLockout
  /** (source, client) pairs that authenticated, least recent first: they skip the per-client budget. */
  readonly #known = new Map<string, true>()
  readonly #maxEntries: number

  constructor (opts: ClientLockoutOptions) {
    const common = { baseMs: opts.baseMs, maxMs: opts.maxMs, maxEntries: opts.maxEntries ?? 10_000, clock: opts.clock ?? Date.now }
    this.#bySource = new FailureLockout({ ...common, after: opts.perSource })
    this.#byClient = new FailureLockout({ ...common, after: opts.perClient })
    this.#maxEntries = common.maxEntries
  }

  /** Milliseconds before `source` may try `clientId` again; 0 when it may now. */
  lockedFor (clientId: string, source: string): number {
    const key = pair(clientId, source)
    const own = this.#bySource.lockedFor(key)
    return this.#known.has(key) ? own : Math.max(own, this.#byClient.lockedFor(clientId))
  }

  /** Records a failed authentication; returns the lockouts it starts (ms, 0 for none). */
  fail (clientId: string, source: string): { sourceMs: number, clientMs: number } {
    return { sourceMs: this.#bySource.fail(pair(clientId, source)), clientMs: this.#byClient.fail(clientId) }
  }

  /** Records a successful authentication: the pair's failures are cleared and the source is known from now on. */
  succeed (clientId: string, source: string): void {
    const key = pair(clientId, source)
    this.#bySource.succeed(key)
    this.#known.delete(key) // re-insert: Map order is the eviction order
    this.#known.set(key, true)
    if (this.#known.size > this.#maxEntries) {
      const oldest = this.#known.keys().next().value
      if (oldest !== undefined) this.#known.delete(oldest)
    }
  }
}

// The source (an IP address) comes first: it holds no space, so the pair is unambiguous whatever the client id holds.
const pair = (clientId: string, source: string): string => `${source} ${clientId}`
