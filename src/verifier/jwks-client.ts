// Owns fetching and caching one remote JWKS: whole-set cache, Cache-Control, kid-miss cooldown, timeout, stale-if-error.
import { createPublicKey } from 'node:crypto'
import { JwksUnavailable } from '../shared/errors.js'

export interface JwksClientOptions {
  /** The JWKS URL, or how to find it (RFC 8414 discovery), resolved on first use and remembered. */
  jwksUri: string | (() => Promise<string>)
  /** Abort a discovery or JWKS fetch after this long (ms). */
  timeoutMs?: number
  /** Floor and ceiling applied to the JWKS `Cache-Control: max-age` (s); no header means the floor. */
  minCacheS?: number
  maxCacheS?: number
  /** An unknown kid refetches the set at most once per this window, however many requests carry it (ms). */
  kidMissCooldownMs?: number
  /** While the issuer is unreachable, keys past their freshness keep verifying this long (s). */
  staleIfErrorS?: number
  /** After a failed fetch, wait this long before the next try instead of delaying every request (ms). */
  retryAfterFailureMs?: number
  clock?: () => number
}

interface CachedKey { pem: string, kty: string, crv: string | undefined, alg: string | undefined }
interface KeySet { keys: Map<string, CachedKey>, freshUntil: number, staleUntil: number, etag: string | undefined }

const MAX_BYTES = 512 * 1024
const KTY_FOR_ALG: Record<string, { kty: string, crv?: string }> = { RS256: { kty: 'RSA' }, ES256: { kty: 'EC', crv: 'P-256' } }

/** GETs a JSON document with a real deadline (AbortSignal) and a size cap; no redirects are followed. */
export async function fetchJson (url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<{ status: number, headers: Headers, body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json', ...headers } })
  if (res.status === 304) { await res.body?.cancel(); return { status: 304, headers: res.headers, body: undefined } }
  if (res.status !== 200) { await res.body?.cancel(); throw new Error(`${url} answered ${res.status}`) }
  if (Number(res.headers.get('content-length') ?? 0) > MAX_BYTES) { await res.body?.cancel(); throw new Error(`${url} is larger than ${MAX_BYTES} bytes`) }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of res.body ?? []) {
    size += (chunk as Uint8Array).byteLength
    if (size > MAX_BYTES) throw new Error(`${url} is larger than ${MAX_BYTES} bytes`)
    chunks.push(chunk as Uint8Array)
  }
  return { status: 200, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }
}

/** RFC 9111 §5.2.2.1 max-age less §5.1 Age; no-store/no-cache count as zero. */
export function freshnessS (cacheControl: string | null, age: string | null): number | undefined {
  if (cacheControl === null) return undefined
  if (/(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)/i.test(cacheControl)) return 0
  const m = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl)
  if (m === null) return undefined
  return Math.max(0, Number(m[1]) - (Number(age) || 0))
}

function parseKeySet (body: unknown): Map<string, CachedKey> {
  const keys = (body as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys)) throw new Error('the document has no "keys" array')
  const out = new Map<string, CachedKey>()
  for (const jwk of keys as Array<Record<string, unknown>>) {
    // Keys we could never use are skipped, not fatal: a set may carry encryption keys or other algorithms.
    if (typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig') || 'd' in jwk) continue
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') continue
    try {
      const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
      out.set(jwk.kid, { pem, kty: jwk.kty, crv: typeof jwk.crv === 'string' ? jwk.crv : undefined, alg: typeof jwk.alg === 'string' ? jwk.alg : undefined })
    } catch { /* malformed key material: skip it like an unknown type */ }
  }
  return out
}

/**
 * A cache of one issuer's key set. get-jwks caches per kid, refetches the whole set for every unknown kid,
 * ignores max-age and has no working timeout with Node's fetch; this keeps the whole set, honours
 * Cache-Control within bounds, coalesces concurrent fetches and serves stale keys while the issuer is down.
 */
export class JwksClient {
  readonly #opts: Required<Omit<JwksClientOptions, 'jwksUri'>>
  readonly #resolveUri: () => Promise<string>
  #uri: string | undefined
  #set: KeySet | undefined
  #inflight: Promise<void> | undefined
  #lastKidMissFetch = -Infinity
  #retryAt = -Infinity
  #lastError: Error | undefined

  constructor (opts: JwksClientOptions) {
    this.#opts = {
      timeoutMs: opts.timeoutMs ?? 2000,
      minCacheS: opts.minCacheS ?? 60,
      maxCacheS: opts.maxCacheS ?? 3600,
      kidMissCooldownMs: opts.kidMissCooldownMs ?? 30_000,
      staleIfErrorS: opts.staleIfErrorS ?? 3600,
      retryAfterFailureMs: opts.retryAfterFailureMs ?? 5000,
      clock: opts.clock ?? Date.now
    }
    const { jwksUri } = opts
    this.#resolveUri = typeof jwksUri === 'string' ? async () => jwksUri : jwksUri
  }

  /**
   * The PEM of key `kid` usable with `alg`, or undefined when the set has no such key.
   * Throws APP_JWKS_UNAVAILABLE only when no usable copy of the set exists.
   */
  async key (kid: string, alg: string): Promise<string | undefined> {
    const now = this.#opts.clock()
    const set = this.#set
    if (set === undefined || now >= set.freshUntil) {
      await this.#refreshOrStale(now)
    } else if (!set.keys.has(kid) && now - this.#lastKidMissFetch >= this.#opts.kidMissCooldownMs) {
      // A freshly rotated key: one refetch per cooldown, shared by every request that carries the new kid.
      this.#lastKidMissFetch = now
      await this.#refresh(now).catch(() => {})
    }
    const key = this.#set?.keys.get(kid)
    const want = KTY_FOR_ALG[alg]
    if (key === undefined || want === undefined || key.kty !== want.kty || (want.crv !== undefined && key.crv !== want.crv)) return undefined
    if (key.alg !== undefined && key.alg !== alg) return undefined
    return key.pem
  }

  async #refreshOrStale (now: number): Promise<void> {
    try {
      await this.#refresh(now)
    } catch (err) {
      const set = this.#set
      if (set !== undefined && now < set.staleUntil) return // stale-if-error: keep verifying with the last good set
      this.#set = undefined
      throw new JwksUnavailable(this.#uri ?? 'of the issuer', (err as Error).message)
    }
  }

  #refresh (now: number): Promise<void> {
    if (this.#inflight !== undefined) return this.#inflight
    if (now < this.#retryAt) return Promise.reject(this.#lastError ?? new Error('the last fetch failed'))
    this.#inflight = this.#fetch().then(() => { this.#retryAt = -Infinity }, (err: Error) => {
      this.#retryAt = this.#opts.clock() + this.#opts.retryAfterFailureMs
      this.#lastError = err
      throw err
    }).finally(() => { this.#inflight = undefined })
    return this.#inflight
  }

  async #fetch (): Promise<void> {
    this.#uri ??= await this.#resolveUri()
    const previous = this.#set
    const res = await fetchJson(this.#uri, this.#opts.timeoutMs, previous?.etag !== undefined ? { 'if-none-match': previous.etag } : {})
    const keys = res.status === 304 && previous !== undefined ? previous.keys : parseKeySet(res.body)
    const given = freshnessS(res.headers.get('cache-control'), res.headers.get('age'))
    const ttlS = Math.min(this.#opts.maxCacheS, Math.max(this.#opts.minCacheS, given ?? this.#opts.minCacheS))
    const now = this.#opts.clock()
    this.#set = {
      keys,
      freshUntil: now + ttlS * 1000,
      staleUntil: now + (ttlS + this.#opts.staleIfErrorS) * 1000,
      etag: res.headers.get('etag') ?? undefined
    }
  }
}
