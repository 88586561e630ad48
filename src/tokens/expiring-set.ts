// Owns a set of ids that forget themselves at their expiry: the jti deny-list and used assertion ids.

/** The seam for a shared store (Redis SET NX PX) when several instances run; this file is the in-process default. */
export interface ExpiringIdSet {
  /** Adds `id` until `expiresAtMs`; false if it was already present (an atomic check-and-set). */
  add: (id: string, expiresAtMs: number) => boolean | Promise<boolean>
  has: (id: string) => boolean | Promise<boolean>
}

/**
 * Map-backed set pruned as it is used: every id carries its own expiry, so memory is bounded by the ids
 * that can still matter (a revoked token is refused only until it would have expired anyway).
 */
export class MemoryExpiringSet implements ExpiringIdSet {
  readonly #expiry = new Map<string, number>()
  readonly #clock: () => number
  #nextPrune = 0

  constructor (clock: () => number = Date.now) { this.#clock = clock }

  add (id: string, expiresAtMs: number): boolean {
    const now = this.#clock()
    this.#prune(now)
    const current = this.#expiry.get(id)
    if (current !== undefined && current > now) return false
    if (expiresAtMs > now) this.#expiry.set(id, expiresAtMs)
    return true
  }

  has (id: string): boolean {
    const expiry = this.#expiry.get(id)
    return expiry !== undefined && expiry > this.#clock()
  }

  get size (): number { return this.#expiry.size }

  // Insertion order is not expiry order, so a full sweep runs at most once a second rather than per call.
  #prune (now: number): void {
    if (now < this.#nextPrune) return
    this.#nextPrune = now + 1000
    for (const [id, expiry] of this.#expiry) if (expiry <= now) this.#expiry.delete(id)
  }
}
