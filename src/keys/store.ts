// Owns where the key ring lives (keys/keyring.json, or Redis through a RingSource): first-start generation, locked
// or compare-and-set saves, and the live ring (re-read on change) with its audit.
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { KeyStoreCorrupt, StoreLocked } from '../shared/errors.js'
import { fileVersion, readIfExists, writeFileAtomic } from '../shared/atomic-file.js'
import type { ChannelHandlers } from '../shared/redis-document.js'
import { withLock } from '../shared/file-lock.js'
import { audit } from '../shared/audit.js'
import type { Log } from '../shared/log.js'
import { WatchedFile, type FileHealth } from '../shared/watched-file.js'
import { newRingKey } from './generate.js'
import { parseRing, publicJwk, publishedKeys, serializeRing, signingKey, type KeyRing, type RingKey } from './keyring.js'

export const RING_FILE = 'keyring.json'

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

/**
 * Where the ring is stored: keyring.json in KEYS_DIR (fileRingSource) or a Redis document (src/keys/redis-ring.ts).
 * The service, rotate-keys and the migration read and change the ring only through this.
 */
export interface RingSource {
  /** Names the store in messages: a path, or the Redis key. */
  readonly name: string
  /** The stored ring; null when there is none yet. Anything unreadable throws (APP_KEYS_CORRUPT, APP_KEK_MISMATCH). */
  load: () => Promise<KeyRing | null>
  /**
   * One read-modify-write: `fn` sees the ring as stored, and the ring it returns (if any) is stored. Two at once
   * cannot both apply to the same ring: the file is locked (APP_STORE_LOCKED after 5 s); a Redis write is a
   * compare-and-set, and the one that lost throws APP_STORE_CONFLICT having written nothing.
   */
  update: <T>(fn: (ring: KeyRing | null) => Promise<{ ring?: KeyRing, result: T }>) => Promise<T>
  /** Changes whenever the stored ring does (a file's inode/size/mtime, a document's revision). */
  version: () => Promise<string | null>
  /** Pushes changes to the live store (Redis pub/sub); without it, the live store polls `version`. */
  watch?: (handlers: ChannelHandlers) => Promise<() => void>
}

/** keyring.json in `dir`: flock-locked atomic replaces. */
export function fileRingSource (dir: string): RingSource {
  return {
    name: join(dir, RING_FILE),
    load: async () => await loadRing(dir),
    update: async fn => await updateRing(dir, async () => {
      const { ring, result } = await fn(await loadRing(dir))
      if (ring !== undefined) await saveRing(dir, ring)
      return result
    }),
    version: async () => await fileVersion(join(dir, RING_FILE))
  }
}

/** On first start (no ring stored) a current and a next key are generated; an existing ring is never overwritten. */
export async function loadOrCreateRing (source: RingSource | string, keySize: number, now: number, log: Log): Promise<KeyRing> {
  const store = typeof source === 'string' ? fileRingSource(source) : source
  const existing = await store.load()
  if (existing !== null) return existing
  // Generated before taking the lock, so a 4096-bit key pair never holds it for seconds (a racing start waits on it).
  const [current, next] = await Promise.all([newRingKey(keySize, now), newRingKey(keySize, now)]) as [RingKey, RingKey]
  const create = async (): Promise<KeyRing> => {
    const { ring, created } = await store.update(async raced => {
      if (raced !== null) return { result: { ring: raced, created: false } }
      const ring: KeyRing = { keys: [{ ...current, state: 'current', activatedAt: now }, next] }
      return { ring, result: { ring, created: true } }
    })
    if (created) log.warn({ event: 'keys.generated', store: store.name, kids: ring.keys.map(k => `${k.kid}:${k.state}`) }, 'no key ring found: generated a current and a next key')
    return ring
  }
  try {
    return await create()
  } catch (err) {
    // Two instances starting at once on an empty Redis: the one that lost the compare-and-set uses the winner's ring.
    if ((err as { code?: string }).code !== 'APP_STORE_CONFLICT') throw err
    const winner = await store.load()
    if (winner === null) throw err
    return winner
  }
}

export interface KeyStoreOptions {
  dir: string
  /** Where the ring lives; keyring.json in `dir` when absent. */
  source?: RingSource
  keySize: number
  retentionMs: number
  pollMs: number
  clock: () => number
  log: Log
}

/**
 * The live key ring: keyring.json as a watched file (polled, reloaded in order, the last good ring kept on a bad
 * file), whose view is also derived again as time passes, and whose every change leaves audit lines.
 */
export class KeyStore {
  readonly #file: WatchedFile<KeyRing, KeyView>

  private constructor (file: WatchedFile<KeyRing, KeyView>, unwatch?: () => void) {
    this.#file = file
    this.#unwatch = unwatch
  }

  readonly #unwatch: (() => void) | undefined

  static async open (opts: KeyStoreOptions): Promise<KeyStore> {
    const source = opts.source ?? fileRingSource(opts.dir)
    const file = await WatchedFile.open({
      path: source.name,
      ...(source.watch === undefined ? {} : { version: source.version }),
      load: async () => {
        const ring = await source.load()
        if (ring === null) throw new KeyStoreCorrupt(source.name, 'the key ring disappeared')
        return ring
      },
      // Time alone can unpublish a retired key whose retention has passed.
      view: ring => buildView(ring, opts.clock(), opts.retentionMs),
      timeDependent: true,
      changed: (view, previous) => view.jwks.etag !== previous.jwks.etag || view.signing.kid !== previous.signing.kid,
      pollMs: opts.pollMs,
      log: opts.log,
      clock: opts.clock,
      event: 'keys',
      label: 'key ring'
    }, async () => await loadOrCreateRing(source, opts.keySize, opts.clock(), opts.log))
    file.onChange((view, previous) => { auditChange(opts, view, previous) })
    // A change announced by Redis is read at once (every instance sees a rotation within milliseconds); after a
    // reconnect the whole ring is read again, as announcements made meanwhile were lost.
    const unwatch = await source.watch?.({
      changed: () => { void file.reload(false) },
      lost: err => { file.unhealthy(err) },
      resync: () => { void file.reload(true) }
    })
    return new KeyStore(file, unwatch)
  }

  get view (): KeyView { return this.#file.view }

  /** Whether the stored ring was usable at the last read (else a rotation is not being applied). */
  get health (): FileHealth { return this.#file.health }

  /** The verifier's key source in-process: PEM of a published key, undefined for any other kid. */
  publicKey (kid: string): string | undefined { return this.#file.view.verificationPem.get(kid) }

  onChange (listener: (view: KeyView, previous: KeyView) => void): void { this.#file.onChange(listener) }

  /** Re-reads keyring.json now (SIGHUP, tests); resolves true when the view changed. */
  async reload (): Promise<boolean> { return await this.#file.reload() }

  stop (): void {
    this.#file.stop()
    this.#unwatch?.()
  }
}

/** One audit line per change: a rotation, a reload, and each key removed before its retention ended (`--emergency`). */
function auditChange (opts: KeyStoreOptions, view: KeyView, previous: KeyView): void {
  const now = opts.clock()
  for (const gone of previous.ring.keys.filter(k => !view.ring.keys.some(n => n.kid === k.kid))) {
    // rotate() deletes only retired keys past retention; anything else vanishing is an emergency removal.
    if (gone.state !== 'retired' || now - (gone.retiredAt ?? now) <= opts.retentionMs) {
      audit(opts.log, 'keys.emergency', { kid: gone.kid, reason: `${gone.state}_key_removed`, detail: 'removed before its retention ended: tokens it signed no longer verify' })
    }
  }
  const rotated = view.signing.kid !== previous.signing.kid
  audit(opts.log, rotated ? 'keys.rotated' : 'keys.reloaded', { kid: view.signing.kid, ...(rotated ? { previous_kid: previous.signing.kid } : {}), published: view.published })
}
