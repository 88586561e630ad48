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

  /** Milliseconds this key stays locked out; 0 when it may try now. */
  async lockedFor (key: string): Promise<number> {
    const now = this.#opts.clock()
    const failures = await this.#store.failures(this.#opts.keyPrefix + key, now, this.#forgetMs)
    return failures === undefined ? 0 : Math.max(0, failures.lastMs + this.#lockMs(failures.count) - now)
  }

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

  /** Milliseconds before `source` may try `clientId` again; 0 when it may now. */
  async lockedFor (clientId: string, source: string): Promise<number> {
    const key = pair(clientId, source)
    const [own, known, budget] = await Promise.all([this.#bySource.lockedFor(key), this.#store.isKnown(key), this.#byClient.lockedFor(clientId)])
    return known ? own : Math.max(own, budget)
  }

  /** Records a failed authentication; returns the lockouts it starts (ms, 0 for none). */
  async fail (clientId: string, source: string): Promise<{ sourceMs: number, clientMs: number }> {
    const [sourceMs, clientMs] = await Promise.all([this.#bySource.fail(pair(clientId, source)), this.#byClient.fail(clientId)])
    return { sourceMs, clientMs }
  }

  /** Records a successful authentication: the pair's failures are cleared and the source is known from now on. */
  async succeed (clientId: string, source: string): Promise<void> {
    const key = pair(clientId, source)
    await Promise.all([this.#bySource.succeed(key), this.#store.addKnown(key)])
  }
}

// The source (an IP address) comes first: it holds no space, so the pair is unambiguous whatever the client id holds.
const pair = (clientId: string, source: string): string => `${source} ${clientId}`
