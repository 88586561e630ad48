// Owns the in-memory set of ids that forget themselves at their expiry: the memory backend's deny-list and used
// assertion ids (the contracts are DenyList and UsedAssertions in state.ts).
import type { DenyList, UsedAssertions } from './state.js'

/**
 * Map-backed set pruned as it is used: every id carries its own expiry, so memory is bounded by the ids
 * that can still matter (a revoked token is refused only until it would have expired anyway).
 */
export class MemoryExpiringSet implements DenyList, UsedAssertions {
  readonly #expiry = new Map<string, number>()
  readonly #clock: () => number
  #nextPrune = 0

  constructor (clock: () => number = Date.now) { this.#clock = clock }

  async add (id: string, expiresAtMs: number): Promise<boolean> { return this.addNow(id, expiresAtMs) }

  async has (id: string): Promise<boolean> {
    const expiry = this.#expiry.get(id)
    return expiry !== undefined && expiry > this.#clock()
  }

  /** `add` in the caller's step: the memory refresh families deny a family's tokens within their own atomic step. */
  addNow (id: string, expiresAtMs: number): boolean {
    const now = this.#clock()
    this.#prune(now)
    const current = this.#expiry.get(id)
    if (current !== undefined && current > now) return false
    if (expiresAtMs > now) this.#expiry.set(id, expiresAtMs)
    return true
  }

  get size (): number { return this.#expiry.size }

  // Insertion order is not expiry order, so a full sweep runs at most once a second rather than per call.
  #prune (now: number): void {
    if (now < this.#nextPrune) return
    this.#nextPrune = now + 1000
    for (const [id, expiry] of this.#expiry) if (expiry <= now) this.#expiry.delete(id)
  }
}
