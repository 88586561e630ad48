// Owns keys/keyring.json: first-start generation, atomic saves, and hot reload into a derived view.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { KeyStoreCorrupt, StoreLocked } from '../shared/errors.js'
import { fileVersion, readIfExists, writeFileAtomic } from '../shared/atomic-file.js'
import { withLock } from '../shared/file-lock.js'
import { newRingKey } from './generate.js'
import { parseRing, publicJwk, publishedKeys, serializeRing, signingKey, type KeyRing, type RingKey } from './keyring.js'
import { audit } from '../shared/audit.js'

export const RING_FILE = 'keyring.json'
import type { Log } from '../shared/log.js'

/** Everything the service reads from the ring, computed once per change rather than per request. */
export interface KeyView {
  readonly ring: KeyRing
  readonly signing: RingKey
  /** Verification keys by kid (PEM, as fast-jwt caches verifiers per PEM string): published keys only. */
  readonly verificationPem: ReadonlyMap<string, string>
  readonly jwks: { readonly body: string, readonly etag: string }
  /** Fingerprint of the published set: a change means tokens may have lost their key. */
  readonly published: string
}

export function buildView (ring: KeyRing, now: number, retentionMs: number): KeyView {
  const published = publishedKeys(ring, now, retentionMs)
  const body = JSON.stringify({ keys: published.map(publicJwk) })
  return {
    ring,
    signing: signingKey(ring),
    verificationPem: new Map(published.map(k => [k.kid, k.publicKey.export({ format: 'pem', type: 'spki' }) as string])),
    jwks: { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` },
    published: published.map(k => k.kid).join(',')
  }
}

/** Reads the ring; a missing file is null, anything unreadable or invalid throws APP_KEYS_CORRUPT. */
export async function loadRing (dir: string): Promise<KeyRing | null> {
  const path = join(dir, RING_FILE)
  let text: string | null
  try { text = await readIfExists(path) } catch (err) { throw new KeyStoreCorrupt(path, (err as Error).message) }
  if (text === null) return null
  try { return parseRing(text) } catch (err) { throw new KeyStoreCorrupt(path, (err as Error).message) }
}

export async function saveRing (dir: string, ring: KeyRing): Promise<void> {
  await writeFileAtomic(join(dir, RING_FILE), serializeRing(ring), 0o600)
}

/** Runs a read-modify-write of the ring under the directory's lock file. */
export async function updateRing<T> (dir: string, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, RING_FILE)
  return await withLock(path, fn, holder => new StoreLocked(path, holder))
}

/** On first start (no keyring.json) a current and a next key are generated; an existing file is never overwritten. */
export async function loadOrCreateRing (dir: string, keySize: number, now: number, log: Log): Promise<KeyRing> {
  const existing = await loadRing(dir)
  if (existing !== null) return existing
  // Generated before taking the lock, so a 4096-bit key pair never holds it for seconds (a racing start waits on it).
  const [current, next] = await Promise.all([newRingKey(keySize, now), newRingKey(keySize, now)]) as [RingKey, RingKey]
  return await updateRing(dir, async () => {
    const raced = await loadRing(dir)
    if (raced !== null) return raced
    const ring: KeyRing = { keys: [{ ...current, state: 'current', activatedAt: now }, next] }
    await saveRing(dir, ring)
    log.warn({ event: 'keys.generated', dir, kids: ring.keys.map(k => `${k.kid}:${k.state}`) }, 'no key ring found: generated a current and a next key')
    return ring
  })
}

/** Whether keyring.json could be used at the last read; while it cannot, the last good ring keeps serving. */
export interface RingHealth {
  /** Why the last read failed, and since when reads have been failing; undefined while reads succeed. */
  readonly failure: { readonly code: string, readonly message: string, readonly since: number } | undefined
  /** Failed reads since start: it grows at every poll while the file stays bad. */
  readonly failures: number
}

export interface KeyStoreOptions {
  dir: string
  keySize: number
  retentionMs: number
  pollMs: number
  clock: () => number
  log: Log
}

/** A live key ring: polls keyring.json, swaps the view atomically, keeps the last good ring on a bad file. */
export class KeyStore {
  #view: KeyView
  #version: string | null = null
  #timer: NodeJS.Timeout | undefined
  #reloading: Promise<boolean> | undefined
  #health: RingHealth = { failure: undefined, failures: 0 }
  readonly #listeners: Array<(view: KeyView, previous: KeyView) => void> = []
  readonly #opts: KeyStoreOptions

  private constructor (opts: KeyStoreOptions, ring: KeyRing, version: string | null) {
    this.#opts = opts
    this.#view = buildView(ring, opts.clock(), opts.retentionMs)
    this.#version = version
  }

  static async open (opts: KeyStoreOptions): Promise<KeyStore> {
    const ring = await loadOrCreateRing(opts.dir, opts.keySize, opts.clock(), opts.log)
    const store = new KeyStore(opts, ring, await fileVersion(join(opts.dir, RING_FILE)))
    store.#timer = setInterval(() => { void store.#tick() }, opts.pollMs)
    store.#timer.unref()
    return store
  }

  get view (): KeyView { return this.#view }

  get health (): RingHealth { return this.#health }

  /** The verifier's key source in-process: PEM of a published key, undefined for any other kid. */
  publicKey (kid: string): string | undefined { return this.#view.verificationPem.get(kid) }

  onChange (listener: (view: KeyView, previous: KeyView) => void): void { this.#listeners.push(listener) }

  /** Re-reads keyring.json now (SIGHUP, tests); resolves true when the view changed. */
  async reload (): Promise<boolean> {
    this.#reloading ??= this.#reload().finally(() => { this.#reloading = undefined })
    return await this.#reloading
  }

  stop (): void { clearInterval(this.#timer) }

  async #reload (): Promise<boolean> {
    const path = join(this.#opts.dir, RING_FILE)
    try {
      const version = await fileVersion(path)
      const ring = await loadRing(this.#opts.dir)
      if (ring === null) throw new KeyStoreCorrupt(path, 'file disappeared')
      this.#version = version
      this.#recovered()
      return this.#swap(ring)
    } catch (err) {
      this.#failed(err)
      return false
    }
  }

  /**
   * The version of a bad file is not recorded, so every poll reads it again (a chmod fixes a file without changing
   * its version); the log gets one line per distinct failure, not one per poll.
   */
  #failed (err: unknown): void {
    const code = (err as { code?: unknown }).code
    const failure = { code: typeof code === 'string' ? code : 'ERROR', message: (err as Error).message, since: this.#health.failure?.since ?? this.#opts.clock() }
    const repeated = this.#health.failure?.code === failure.code && this.#health.failure.message === failure.message
    this.#health = { failure, failures: this.#health.failures + 1 }
    if (repeated) return
    this.#opts.log.error({ event: 'keys.reload_failed', err: { code: failure.code, message: failure.message } },
      'key ring reload failed: still serving the last good ring (logged once until the failure changes or ends)')
  }

  #recovered (): void {
    const failure = this.#health.failure
    if (failure === undefined) return
    this.#health = { failure: undefined, failures: this.#health.failures }
    this.#opts.log.info({ event: 'keys.reload_recovered', failed_for_s: Math.round((this.#opts.clock() - failure.since) / 1000) },
      'key ring file readable again: serving it')
  }

  async #tick (): Promise<void> {
    const version = await fileVersion(join(this.#opts.dir, RING_FILE)).catch(() => this.#version)
    if (version !== this.#version) { await this.reload(); return }
    // Time alone can unpublish a retired key whose retention has passed.
    const fresh = buildView(this.#view.ring, this.#opts.clock(), this.#opts.retentionMs)
    if (fresh.published !== this.#view.published) this.#swap(this.#view.ring, fresh)
  }

  /** One audit line per change: a rotation, a reload, and each key removed before its retention ended (`--emergency`). */
  #auditChange (view: KeyView, previous: KeyView): void {
    const now = this.#opts.clock()
    for (const gone of previous.ring.keys.filter(k => !view.ring.keys.some(n => n.kid === k.kid))) {
      // rotate() deletes only retired keys past retention; anything else vanishing is an emergency removal.
      if (gone.state !== 'retired' || now - (gone.retiredAt ?? now) <= this.#opts.retentionMs) {
        audit(this.#opts.log, 'keys.emergency', { kid: gone.kid, reason: `${gone.state}_key_removed`, detail: 'removed before its retention ended: tokens it signed no longer verify' })
      }
    }
    const rotated = view.signing.kid !== previous.signing.kid
    audit(this.#opts.log, rotated ? 'keys.rotated' : 'keys.reloaded', { kid: view.signing.kid, ...(rotated ? { previous_kid: previous.signing.kid } : {}), published: view.published })
  }

  #swap (ring: KeyRing, view = buildView(ring, this.#opts.clock(), this.#opts.retentionMs)): boolean {
    const previous = this.#view
    if (view.jwks.etag === previous.jwks.etag && view.signing.kid === previous.signing.kid) { this.#view = view; return false }
    this.#view = view
    this.#auditChange(view, previous)
    for (const listener of this.#listeners) listener(view, previous)
    return true
  }
}
