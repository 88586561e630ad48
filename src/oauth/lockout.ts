// Owns the failed-authentication lockout policy: per client id and source address, plus a per-client budget across
// sources that never blocks a source the client has authenticated from. The counts live in the token-state
// backend's LockoutStore (src/tokens/state.ts), so instances sharing a backend share the lockout.
import type { LockoutStore } from '../tokens/state.js'

export interface LockoutOptions {
  /** Consecutive failures before the first lockout. */
  after: number
  /** First lockout (ms); each further failure doubles it. */
  baseMs: number
  /** Longest lockout (ms). */
  maxMs: number
  /** Prefix of this lockout's keys in the store, so two lockouts can share one. */
  keyPrefix?: string
  clock?: () => number
}

/** What a lockout check saw for one key: how long it waits, and whether it has failures that a success clears. */
export interface LockoutCheck { waitMs: number, failures: boolean }

/** Exponential lockout of one key after consecutive failures. */
export class FailureLockout {
  readonly #store: LockoutStore
  readonly #opts: Required<LockoutOptions>
  /** Failures are forgotten after a quiet spell of twice the longest lockout: old mistakes do not accumulate. */
  readonly #forgetMs: number

  constructor (store: LockoutStore, opts: LockoutOptions) {
    this.#store = store
    this.#opts = { keyPrefix: '', clock: Date.now, ...opts }
    this.#forgetMs = 2 * this.#opts.maxMs
  }

  /** The lockout `count` consecutive failures start (ms): none under the threshold, then doubling to the maximum. */
  #lockMs (count: number): number {
    const over = count - this.#opts.after
    return over < 0 ? 0 : Math.min(this.#opts.maxMs, this.#opts.baseMs * 2 ** Math.min(over, 30))
  }

  async check (key: string): Promise<LockoutCheck> {
    const now = this.#opts.clock()
    const failures = await this.#store.failures(this.#opts.keyPrefix + key, now, this.#forgetMs)
    if (failures === undefined) return { waitMs: 0, failures: false }
    return { waitMs: Math.max(0, failures.lastMs + this.#lockMs(failures.count) - now), failures: true }
  }

  /** Milliseconds this key stays locked out; 0 when it may try now. */
  async lockedFor (key: string): Promise<number> { return (await this.check(key)).waitMs }

  /** Records a failure; returns the lockout it starts (ms), 0 while under the threshold. */
  async fail (key: string): Promise<number> {
    return this.#lockMs(await this.#store.addFailure(this.#opts.keyPrefix + key, this.#opts.clock(), this.#forgetMs))
  }

  /** A success clears the record. */
  async succeed (key: string): Promise<void> { await this.#store.clearFailures(this.#opts.keyPrefix + key) }
}

export interface ClientLockoutOptions {
  /** Consecutive failures for one client id from one source before that pair is locked out. */
  perSource: number
  /** Failures for one client id from all sources before sources it never authenticated from are locked out too. */
  perClient: number
  baseMs: number
  maxMs: number
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
  /** Also remembers the (source, client) pairs that authenticated: they skip the per-client budget. */
  readonly #store: LockoutStore

  constructor (store: LockoutStore, opts: ClientLockoutOptions) {
    const common = { baseMs: opts.baseMs, maxMs: opts.maxMs, clock: opts.clock ?? Date.now }
    this.#bySource = new FailureLockout(store, { ...common, after: opts.perSource, keyPrefix: 'source ' })
    this.#byClient = new FailureLockout(store, { ...common, after: opts.perClient, keyPrefix: 'client ' })
    this.#store = store
  }

  /**
   * How long before `source` may try `clientId` again (0: now), and whether the pair has failures to clear. A known
   * source is exempt from the per-client budget, so its budget is not read: on a shared store the usual request
   * (a client from where it always runs, its "known" answered from the instance's memory) costs one read.
   */
  async check (clientId: string, source: string): Promise<LockoutCheck> {
    const key = pair(clientId, source)
    const known = await this.#store.isKnown(key)
    const [own, budget] = await Promise.all([this.#bySource.check(key), known ? 0 : this.#byClient.lockedFor(clientId)])
    return { waitMs: Math.max(own.waitMs, budget), failures: own.failures }
  }

  /** Records a failed authentication; returns the lockouts it starts (ms, 0 for none). */
  async fail (clientId: string, source: string): Promise<{ sourceMs: number, clientMs: number }> {
    const [sourceMs, clientMs] = await Promise.all([this.#bySource.fail(pair(clientId, source)), this.#byClient.fail(clientId)])
    return { sourceMs, clientMs }
  }

  /**
   * Records a successful authentication: the pair's failures are cleared and the source is known from now on.
   * `seen`, the check before it: a pair that had no failures then has nothing to clear, and no write is made (a
   * failure counted in between stays counted until the next success: it errs towards the lockout).
   */
  async succeed (clientId: string, source: string, seen?: LockoutCheck): Promise<void> {
    const key = pair(clientId, source)
    await Promise.all([seen?.failures === false ? undefined : this.#bySource.succeed(key), this.#store.addKnown(key)])
  }
}

// The source (an IP address) comes first: it holds no space, so the pair is unambiguous whatever the client id holds.
const pair = (clientId: string, source: string): string => `${source} ${clientId}`
