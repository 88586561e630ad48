// Owns the refresh-token rules: opaque, stored as hashes, rotated on every use, a reused token revokes its family.
// The state lives behind the RefreshFamilies contract (state.ts); nothing here knows which backend holds it.
import { createHash, randomBytes } from 'node:crypto'
import type { FamilyAccessToken, RefreshFamilies, RefreshGrant, RefreshRecord } from './state.js'

export interface RefreshPolicy {
  /** A token unused this long expires (s). */
  idleS: number
  /** No token of a family outlives its first issue by more than this (s). */
  absoluteS: number
}

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('base64url')

/** On reuse, `revokedAccessTokens` are the family's access tokens, already on the deny-list (for the audit line). */
export type RotateResult =
  | { ok: true, grant: RefreshGrant, familyId: string, familyExpiresAtMs: number }
  | RotateRefusal
export interface RotateRefusal { ok: false, reason: 'unknown' | 'expired' | 'revoked' | 'wrong_client' | 'reused', revokedAccessTokens?: FamilyAccessToken[] }

/** A rotation checked but not yet done: `spend` spends the token (undefined) or finds it reused (the family revoked). */
export type PendingRotation =
  | { ok: true, grant: RefreshGrant, familyId: string, familyExpiresAtMs: number, spend: () => Promise<RotateRefusal | undefined> }
  | RotateRefusal

/** Refresh-token rules (RFC 6749 §6, OAuth 2.0 Security BCP §4.14.2) over any backend's RefreshFamilies. */
export class RefreshTokens {
  readonly #store: RefreshFamilies
  readonly #policy: RefreshPolicy

  constructor (store: RefreshFamilies, policy: RefreshPolicy) {
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
    const pending = await this.begin(token, clientId, nowMs, check)
    if (!pending.ok) return pending
    const { spend, ...rotated } = pending
    return (await spend()) ?? rotated
  }

  /**
   * rotate() in two steps: the checks now, the spending when the caller calls `spend`. The token endpoint stores the
   * successor and the new access token first and spends last: a store that fails midway (Redis going away) then
   * leaves the old token unspent, and the client's retry of that 503 works instead of counting as a reuse.
   */
  async begin (token: string, clientId: string, nowMs: number, check?: (grant: RefreshGrant) => void): Promise<PendingRotation> {
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
    const spend = async (): Promise<RotateRefusal | undefined> => await this.#store.markUsed(record.hash) ? undefined : await this.#reused(record.familyId)
    return { ok: true, grant, familyId: record.familyId, familyExpiresAtMs: record.familyExpiresAtMs, spend }
  }

  /**
   * Records an access token minted from the family, so that revoking the family denies it; false when the family
   * was revoked meanwhile, and the token is denied already (see the store).
   */
  async recordAccessToken (familyId: string, jti: string, expiresAtMs: number): Promise<boolean> {
    return await this.#store.addAccessToken(familyId, jti, expiresAtMs)
  }

  // OAuth 2.0 Security BCP §4.14.2: a replayed refresh token leaked; nothing of its family stays valid.
  async #reused (familyId: string): Promise<RotateRefusal> {
    return { ok: false, reason: 'reused', revokedAccessTokens: await this.#store.revokeFamily(familyId) }
  }

  /**
   * RFC 7009: revoking a refresh token revokes its family and denies the family's access tokens (one step of the
   * store); only the client it was issued to may do it.
   */
  async revoke (token: string, clientId: string): Promise<{ revoked: boolean, accessTokens: FamilyAccessToken[] }> {
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
