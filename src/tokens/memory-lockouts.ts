// Owns the in-memory lockout counts (the LockoutStore contract in state.ts): bounded, since the keys are attacker-chosen.
import type { FailureCount, LockoutStore } from './state.js'

export interface MemoryLockoutOptions {
  /**
   * Most keys remembered in each of the two maps (failure counts, known pairs); the least recently failed (or
   * authenticated) are forgotten first. The failure map holds both lockout layers' keys.
   */
  maxEntries?: number
}

/** Map order is the eviction order: every write re-inserts its key at the end. */
function touch<V> (map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) {
    const oldest = map.keys().next().value
    if (oldest !== undefined) map.delete(oldest)
  }
}

/** Lockout counts in two LRU-bounded maps; every method runs without awaiting, so each is one atomic step. */
export class MemoryLockoutStore implements LockoutStore {
  readonly #failures = new Map<string, FailureCount>()
  readonly #known = new Map<string, true>()
  readonly #max: number

  constructor (opts: MemoryLockoutOptions = {}) { this.#max = opts.maxEntries ?? 20_000 }

  async addFailure (key: string, nowMs: number, forgetMs: number): Promise<number> {
    const count = (this.#live(key, nowMs, forgetMs)?.count ?? 0) + 1
    touch(this.#failures, key, { count, lastMs: nowMs }, this.#max)
    return count
  }

  async failures (key: string, nowMs: number, forgetMs: number): Promise<FailureCount | undefined> {
    const entry = this.#live(key, nowMs, forgetMs)
    return entry === undefined ? undefined : { ...entry }
  }

  async clearFailures (key: string): Promise<void> { this.#failures.delete(key) }

  async addKnown (key: string): Promise<void> { touch(this.#known, key, true, this.#max) }

  async isKnown (key: string): Promise<boolean> { return this.#known.has(key) }

  /** Failure keys held (for the memory bound's tests). */
  get size (): number { return this.#failures.size }

  #live (key: string, nowMs: number, forgetMs: number): FailureCount | undefined {
    const entry = this.#failures.get(key)
    if (entry !== undefined && nowMs - entry.lastMs > forgetMs) {
      this.#failures.delete(key)
      return undefined
    }
    return entry
  }
}
