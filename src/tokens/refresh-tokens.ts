// Owns refresh tokens: opaque, stored as hashes, rotated on every use, a reused token revokes its family.
import { createHash, randomBytes } from 'node:crypto'

/** What a refresh token stands for: the grant it continues. */
export interface RefreshGrant {
  clientId: string
  org: string
  subject: string
  /** The grant's scope; every refresh intersects it with what the client (and `issuer`) allow at that time. */
  scope: string
  /** The identity provider whose assertion started the grant (jwt-bearer), asked again at every refresh. */
  issuer?: string
}

export interface RefreshRecord extends RefreshGrant {
  /** SHA-256 of the token: the token itself is never stored. */
  hash: string
  familyId: string
  /** The absolute deadline of the whole family, inherited by every rotated token. */
  familyExpiresAtMs: number
  issuedAtMs: number
  expiresAtMs: number
  used: boolean
}

/** The seam for a shared store; each method is one atomic step there (e.g. a Redis hash + Lua). */
export interface RefreshTokenStore {
  get: (hash: string) => RefreshRecord | undefined | Promise<RefreshRecord | undefined>
  put: (record: RefreshRecord) => void | Promise<void>
  /** Marks the token used; false when it already was (the caller then treats it as reuse). */
  markUsed: (hash: string) => boolean | Promise<boolean>
  /**
   * Records an access token minted from the family, so revoking the family can deny it, unless the family is
   * revoked (or gone): then false, and the token must not be handed out. One atomic step with revokeFamily's,
   * so every access token is either in the list revokeFamily returns or refused here.
   */
  addAccessTokenUnlessRevoked: (familyId: string, jti: string, expiresAtMs: number) => boolean | Promise<boolean>
  /** Revokes every token of the family (one atomic step); returns the family's access tokens still to deny. */
  revokeFamily: (familyId: string) => Array<{ jti: string, expiresAtMs: number }> | Promise<Array<{ jti: string, expiresAtMs: number }>>
  isFamilyRevoked: (familyId: string) => boolean | Promise<boolean>
}

export interface RefreshPolicy {
  /** A token unused this long expires (s). */
  idleS: number
  /** No token of a family outlives its first issue by more than this (s). */
  absoluteS: number
}

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('base64url')

export type RotateResult =
  | { ok: true, grant: RefreshGrant, familyId: string, familyExpiresAtMs: number }
  | { ok: false, reason: 'unknown' | 'expired' | 'revoked' | 'wrong_client' | 'reused', revokedAccessTokens?: Array<{ jti: string, expiresAtMs: number }> }

/** Refresh-token rules (RFC 6749 §6, OAuth 2.0 Security BCP §4.14.2) over any RefreshTokenStore. */
export class RefreshTokens {
  readonly #store: RefreshTokenStore
  readonly #policy: RefreshPolicy

  constructor (store: RefreshTokenStore, policy: RefreshPolicy) {
    this.#store = store
    this.#policy = policy
  }

  /** Mints a token: a new family unless `family` continues one (rotation keeps the absolute deadline). */
  async issue (grant: RefreshGrant, nowMs: number, family?: { id: string, expiresAtMs: number }): Promise<{ token: string, familyId: string }> {
    const token = randomBytes(32).toString('base64url')
    const familyExpires = family?.expiresAtMs ?? nowMs + this.#policy.absoluteS * 1000
    const familyId = family?.id ?? randomBytes(16).toString('base64url')
    await this.#store.put({
      ...grant,
      hash: hashRefreshToken(token),
      familyId,
      familyExpiresAtMs: familyExpires,
      issuedAtMs: nowMs,
      expiresAtMs: Math.min(nowMs + this.#policy.idleS * 1000, familyExpires),
      used: false
    })
    return { token, familyId }
  }

  /**
   * Spends a token for a new one. A second use of the same token means it leaked: the whole family goes.
   * `check` sees the grant before the token is spent and may refuse it by throwing (e.g. a scope the client no
   * longer has): a refused refresh leaves the token usable, so the client can retry with what it may still ask.
   */
  async rotate (token: string, clientId: string, nowMs: number, check?: (grant: RefreshGrant) => void): Promise<RotateResult> {
    const record = await this.#store.get(hashRefreshToken(token))
    if (record === undefined) return { ok: false, reason: 'unknown' }
    // Bound to its client (RFC 6749 §10.4): another client presenting it learns nothing and spends nothing.
    if (record.clientId !== clientId) return { ok: false, reason: 'wrong_client' }
    if (await this.#store.isFamilyRevoked(record.familyId)) return { ok: false, reason: 'revoked' }
    if (record.expiresAtMs <= nowMs) return { ok: false, reason: 'expired' }
    // A replay is detected before `check`: no refusal of `check` may hide a leaked token. markUsed below stays the
    // atomic step; this only answers a plain replay early.
    if (record.used) return await this.#reused(record.familyId)
    const { clientId: c, org, subject, scope, issuer } = record
    const grant: RefreshGrant = { clientId: c, org, subject, scope, ...(issuer === undefined ? {} : { issuer }) }
    check?.(grant)
    if (!await this.#store.markUsed(record.hash)) return await this.#reused(record.familyId)
    return { ok: true, grant, familyId: record.familyId, familyExpiresAtMs: record.familyExpiresAtMs }
  }

  /** Records an access token minted from the family; false when the family was revoked meanwhile (see the store). */
  async recordAccessToken (familyId: string, jti: string, expiresAtMs: number): Promise<boolean> {
    return await this.#store.addAccessTokenUnlessRevoked(familyId, jti, expiresAtMs)
  }

  async #reused (familyId: string): Promise<RotateResult> {
    return { ok: false, reason: 'reused', revokedAccessTokens: await this.#store.revokeFamily(familyId) }
  }

  /** RFC 7009: revoking a refresh token revokes its family; only the client it was issued to may do it. */
  async revoke (token: string, clientId: string): Promise<{ revoked: boolean, accessTokens: Array<{ jti: string, expiresAtMs: number }> }> {
    const record = await this.#store.get(hashRefreshToken(token))
    if (record === undefined || record.clientId !== clientId) return { revoked: false, accessTokens: [] }
    return { revoked: true, accessTokens: await this.#store.revokeFamily(record.familyId) }
  }

  /** RFC 7662 view of a refresh token, for the client it was issued to. */
  async inspect (token: string, clientId: string, nowMs: number): Promise<RefreshRecord | undefined> {
    const record = await this.#store.get(hashRefreshToken(token))
    if (record === undefined || record.clientId !== clientId || record.used || record.expiresAtMs <= nowMs) return undefined
    if (await this.#store.isFamilyRevoked(record.familyId)) return undefined
    return record
  }
}

interface Family { revoked: boolean, expiresAtMs: number, accessTokens: Map<string, number> }

/** In-process default: lost on restart (clients then authenticate again), pruned as it grows. */
export class MemoryRefreshTokenStore implements RefreshTokenStore {
  readonly #records = new Map<string, RefreshRecord>()
  readonly #families = new Map<string, Family>()
  readonly #clock: () => number
  #nextPrune = 0

  constructor (clock: () => number = Date.now) { this.#clock = clock }

  get (hash: string): RefreshRecord | undefined { return this.#records.get(hash) }

  put (record: RefreshRecord): void {
    this.#prune()
    this.#records.set(record.hash, { ...record })
    if (!this.#families.has(record.familyId)) {
      this.#families.set(record.familyId, { revoked: false, expiresAtMs: record.familyExpiresAtMs, accessTokens: new Map() })
    }
  }

  markUsed (hash: string): boolean {
    const record = this.#records.get(hash)
    if (record === undefined || record.used) return false
    record.used = true
    return true
  }

  addAccessTokenUnlessRevoked (familyId: string, jti: string, expiresAtMs: number): boolean {
    const family = this.#families.get(familyId)
    if (family === undefined || family.revoked) return false
    family.accessTokens.set(jti, expiresAtMs)
    return true
  }

  revokeFamily (familyId: string): Array<{ jti: string, expiresAtMs: number }> {
    const family = this.#families.get(familyId)
    if (family === undefined) return []
    family.revoked = true
    const now = this.#clock()
    return [...family.accessTokens].filter(([, exp]) => exp > now).map(([jti, expiresAtMs]) => ({ jti, expiresAtMs }))
  }

  isFamilyRevoked (familyId: string): boolean { return this.#families.get(familyId)?.revoked ?? false }

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
