// Owns the in-memory refresh families (the RefreshFamilies contract in state.ts): lost on restart, pruned as it grows.
import type { MemoryExpiringSet } from './expiring-set.js'
import type { FamilyAccessToken, RefreshFamilies, RefreshRecord } from './state.js'

interface Family { revoked: boolean, expiresAtMs: number, accessTokens: Map<string, number> }

/**
 * Every method runs to completion without awaiting anything, so each one is a single atomic step among
 * concurrent requests of this process (the contract's guarantee, for free on one event loop).
 */
export class MemoryRefreshFamilies implements RefreshFamilies {
  readonly #records = new Map<string, RefreshRecord>()
  readonly #families = new Map<string, Family>()
  readonly #denyList: MemoryExpiringSet
  readonly #clock: () => number
  #nextPrune = 0

  /** `denyList` is the backend's own: revokeFamily denies the family's access tokens in the same step. */
  constructor (denyList: MemoryExpiringSet, clock: () => number = Date.now) {
    this.#denyList = denyList
    this.#clock = clock
  }

  async get (hash: string): Promise<RefreshRecord | undefined> {
    const record = this.#records.get(hash)
    return record === undefined ? undefined : { ...record }
  }

  async put (record: RefreshRecord): Promise<void> {
    this.#prune()
    this.#records.set(record.hash, { ...record })
    if (!this.#families.has(record.familyId)) {
      this.#families.set(record.familyId, { revoked: false, expiresAtMs: record.familyExpiresAtMs, accessTokens: new Map() })
    }
  }

  async markUsed (hash: string): Promise<boolean> {
    const record = this.#records.get(hash)
    if (record === undefined || record.used) return false
    record.used = true
    return true
  }

  async addAccessToken (familyId: string, jti: string, expiresAtMs: number): Promise<boolean> {
    const family = this.#families.get(familyId)
    if (family === undefined || family.revoked) {
      if (expiresAtMs > this.#clock()) this.#denyList.addNow(jti, expiresAtMs)
      return false
    }
    family.accessTokens.set(jti, expiresAtMs)
    return true
  }

  async revokeFamily (familyId: string): Promise<FamilyAccessToken[]> {
    const family = this.#families.get(familyId)
    if (family === undefined) return []
    family.revoked = true
    const now = this.#clock()
    const live = [...family.accessTokens].filter(([, exp]) => exp > now).map(([jti, expiresAtMs]) => ({ jti, expiresAtMs }))
    for (const t of live) this.#denyList.addNow(t.jti, t.expiresAtMs)
    return live
  }

  async isFamilyRevoked (familyId: string): Promise<boolean> { return this.#families.get(familyId)?.revoked ?? false }

  get size (): number { return this.#records.size }

  // A used or expired record still matters until its family's deadline: reuse of it must revoke the family.
  #prune (): void {
    const now = this.#clock()
    if (now < this.#nextPrune) return
    this.#nextPrune = now + 60_000
    for (const [hash, r] of this.#records) if (r.familyExpiresAtMs <= now) this.#records.delete(hash)
    for (const [id, f] of this.#families) if (f.expiresAtMs <= now) this.#families.delete(id)
  }
}
