// Owns the embedded FeatureStore backend: the in-memory index made durable by the journal, seeded on first start.
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FeatureNotFound, FeaturePreconditionFailed, FeatureStoreLocked, FeatureStoreUnavailable, SeedInvalid } from '../../shared/errors.js'
import { mkdirDurable, removeStaleTemps } from '../../shared/atomic-file.js'
import { holdLock, type HeldLock } from '../../shared/file-lock.js'
import { ifMatchAllows } from '../../shared/etag.js'
import type { Log } from '../../shared/log.js'
import { validateFeature, type Feature } from '../geojson.js'
import { mergePatch } from '../merge-patch.js'
import { Journal, replayJournal, type JournalOp } from './journal.js'
import { readSnapshot, SNAPSHOT_FILE } from './snapshot.js'
import { Retry } from './retry.js'
import type { CollectionDef, FeatureStore, OrgFeatures, OrgId, StoreStatus, WriteCondition } from '../store.js'
import { FeatureIndex, type IndexedFeature } from './feature-index.js'

/** What the store tells its host about, for metrics. */
export interface StoreEvents {
  /** A write answered 503: its append `failed` (and was cut back), or the journal is `fenced`. */
  writeRefused?: (reason: 'failed' | 'fenced') => void
  compactionFailed?: () => void
  /** The journal started (true) or stopped (false) refusing every write. */
  fenced?: (on: boolean) => void
}

export interface EmbeddedStoreOptions {
  /** Directory of snapshot.jsonl and journal.log. */
  dir: string
  /** GeoJSON FeatureCollection with a `collections` member, loaded when the store is empty. */
  seedFile?: string
  /** Journal length (operations) that triggers a compaction into a new snapshot. */
  compactEvery?: number
  /** Journal size (bytes) that triggers a compaction: a start replays at most about this much. */
  compactBytes?: number
  /** First delay of the background retries (compaction, cutting back a failed append); it doubles up to a minute. */
  retryBaseMs?: number
  log: Log
  events?: StoreEvents
}

/**
 * FEATURE_JOURNAL_MAX_MB's default. A start replays the journal at roughly 20–50 MB/s (JSON parse and serialize;
 * 81 MB of 1 MB features took 1.5–4 s on a shared core), so this keeps that under a second, like the op count does
 * for small features (10,000 of them are a few MB).
 */
export const DEFAULT_COMPACT_BYTES = 16 * 2 ** 20
/** Consecutive failed compactions after which /ready reports the store: one can be a passing hiccup. */
const COMPACTION_FAILURES_NOT_READY = 3

/** Reads a seed FeatureCollection; every feature must be valid and carry an `org` member. */
export async function readSeed (path: string): Promise<{ collections: CollectionDef[], entries: Array<{ org: string, collection: string, feature: Feature }> }> {
  let fc: { collections?: CollectionDef[], features?: Array<Record<string, unknown>> }
  try { fc = JSON.parse(await readFile(path, 'utf8')) as typeof fc } catch (err) { throw new SeedInvalid(path, (err as Error).message) }
  if (!Array.isArray(fc.collections) || !Array.isArray(fc.features)) throw new SeedInvalid(path, 'needs "collections" and "features" arrays')
  const ids = new Set(fc.collections.map(c => c.id))
  const entries = fc.features.map((raw, i) => {
    const { org, collection } = raw
    if (typeof org !== 'string' || typeof collection !== 'string' || !ids.has(collection)) {
      throw new SeedInvalid(path, `feature ${i} needs an "org" and a known "collection"`)
    }
    try {
      const feature = validateFeature(raw)
      return { org, collection, feature: { ...feature, id: String(feature.id ?? randomUUID()) } }
    } catch (err) { throw new SeedInvalid(path, `feature ${i}${(err as Error).message}`) }
  })
  return { collections: fc.collections, entries }
}

export class EmbeddedFeatureStore implements FeatureStore {
  readonly #index: FeatureIndex
  readonly #journal: Journal
  readonly #compactEvery: number
  readonly #compactBytes: number
  readonly #log: Log
  readonly #events: StoreEvents
  /** Compaction after a write: in the background, retried with back-off until it succeeds. */
  readonly #compaction: Retry
  /** While the journal is fenced: cut it back again, with back-off, until writes can be accepted. */
  readonly #unfence: Retry
  /** The last write failure logged: a full disk fails every write, but is logged once. */
  #writeFailure: string | undefined
  #queue: Promise<unknown> = Promise.resolve()
  readonly #handles = new Map<OrgId, OrgFeatures>()

  /** Held from open to close: the one-writer rule between processes. */
  readonly #lock: HeldLock

  private constructor (index: FeatureIndex, journal: Journal, lock: HeldLock, opts: EmbeddedStoreOptions) {
    this.#lock = lock
    this.#index = index
    this.#journal = journal
    this.#compactEvery = opts.compactEvery ?? 10_000
    this.#compactBytes = opts.compactBytes ?? DEFAULT_COMPACT_BYTES
    this.#log = opts.log
    this.#events = opts.events ?? {}
    const backoff = { baseMs: opts.retryBaseMs ?? 1000, maxMs: 60_000 }
    this.#compaction = new Retry(async () => { await this.#exclusive(async () => { await this.#compact() }) }, {
      ...backoff,
      onFailure: (err, failures, repeated) => {
        this.#events.compactionFailed?.()
        if (!repeated) this.#log.error({ event: 'features.compaction_failed', err, failures }, 'feature store compaction failed; every write is safe in the journal; retrying in the background')
      },
      onRecovery: failures => { this.#log.info({ event: 'features.compaction_recovered', failures }, 'feature store compaction succeeded again') }
    })
    this.#unfence = new Retry(async () => { await this.#exclusive(async () => { await this.#cutBack() }) }, {
      ...backoff,
      onFailure: (err, failures, repeated) => {
        if (!repeated) this.#log.error({ event: 'features.cut_back_failed', err, failures }, 'the journal still cannot be cut back to its last whole write; feature writes stay refused')
      }
    })
  }

  static async open (opts: EmbeddedStoreOptions): Promise<EmbeddedFeatureStore> {
    await mkdirDurable(opts.dir)
    // One writer: a second process would append to the same journal and compact over the first one's writes. The
    // lock file sits next to the directory (DATA_DIR/features.lock), like keyring.json.lock: the store's own files
    // stay exactly its data. flock(2): the kernel drops the lock when its process dies, kill -9 included.
    const lock = await holdLock(`${opts.dir}.lock`, holder => new FeatureStoreLocked(opts.dir, holder))
    try {
      return await EmbeddedFeatureStore.#openLocked(opts, lock)
    } catch (err) {
      await lock.release()
      throw err
    }
  }

  static async #openLocked (opts: EmbeddedStoreOptions, lock: HeldLock): Promise<EmbeddedFeatureStore> {
    // Temp snapshots of compactions a crash interrupted: each can be as big as the store.
    const stale = await removeStaleTemps(join(opts.dir, SNAPSHOT_FILE))
    if (stale.files > 0) opts.log.info({ event: 'features.stale_temp_removed', ...stale }, 'removed temp snapshots left by an interrupted compaction')
    const snapshot = await readSnapshot(opts.dir)
    let index = snapshot?.index ?? new FeatureIndex([])
    const replayed = await replayJournal(opts.dir, op => { applyOp(index, op) }, msg => { opts.log.warn({ event: 'features.torn_write' }, msg) })
    let seeded: number | undefined
    if (snapshot === null && replayed === 0 && opts.seedFile !== undefined && opts.seedFile !== '') {
      const seed = await readSeed(opts.seedFile)
      index = new FeatureIndex(seed.collections)
      for (const e of seed.entries) index.put(e.org, e.collection, String(e.feature.id), e.feature)
      seeded = seed.entries.length
    }
    index.seal()
    const journal = await Journal.open(opts.dir, replayed)
    const store = new EmbeddedFeatureStore(index, journal, lock, opts)
    if (seeded !== undefined) {
      await store.#compact()
      opts.log.info({ event: 'features.seeded', file: opts.seedFile, features: seeded }, 'feature store seeded')
    } else if (snapshot !== null && snapshot.version < 2) {
      await store.#compact()
      opts.log.info({ event: 'features.snapshot_upgraded', version: 2 }, 'feature snapshot rewritten in the current format')
    }
    return store
  }

  /** What /ready reports: writes refused (fenced), compaction failing again and again, or ok. */
  status (): StoreStatus {
    if (this.#journal.fenced) return 'write-fenced'
    if (this.#compaction.failures >= COMPACTION_FAILURES_NOT_READY) return 'compaction-failing'
    return 'ok'
  }

  collections (): readonly CollectionDef[] { return this.#index.defs }
  collection (id: string): CollectionDef | undefined { return this.#index.def(id) }

  /** One handle per org, kept: orgs come from verified tokens, so they are few. */
  forOrg (org: OrgId): OrgFeatures {
    let handle = this.#handles.get(org)
    if (handle === undefined) {
      handle = this.#handle(org)
      this.#handles.set(org, handle)
    }
    return handle
  }

  #handle (org: OrgId): OrgFeatures {
    const index = this.#index
    return {
      org,
      get: async (collection, id) => index.get(org, collection, id),
      list: async (collection, query) => index.list(org, collection, query),
      extent: async collection => index.extent(org, collection),
      create: async (collection, feature) => await this.#exclusive(async () =>
        await this.#commit({ op: 'put', org, collection, id: randomUUID(), feature }) as IndexedFeature),
      replace: async (collection, id, feature, condition) => await this.#exclusive(async () => {
        this.#current(org, collection, id, condition)
        return await this.#commit({ op: 'put', org, collection, id, feature }) as IndexedFeature
      }),
      // Read, merge and write in one turn of the write queue: no other write can come between the check and the write.
      patch: async (collection, id, patch, condition) => await this.#exclusive(async () => {
        const { id: _id, ...base } = this.#current(org, collection, id, condition).feature
        const merged = mergePatch(base, patch) as Feature
        const feature = validateFeature({ ...merged, type: 'Feature' })
        return await this.#commit({ op: 'put', org, collection, id, feature }) as IndexedFeature
      }),
      delete: async (collection, id, condition) => {
        await this.#exclusive(async () => {
          this.#current(org, collection, id, condition)
          await this.#commit({ op: 'del', org, collection, id })
        })
      }
    }
  }

  /** Waits for the writes and the compaction already queued; cancels the retries still waiting. */
  async close (): Promise<void> {
    this.#compaction.stop()
    this.#unfence.stop()
    await this.#exclusive(async () => { await this.#journal.close() })
    await this.#lock.release()
  }

  #current (org: string, collection: string, id: string, condition: WriteCondition | undefined): IndexedFeature {
    const current = this.#index.get(org, collection, id)
    if (current === undefined) throw new FeatureNotFound(collection, id)
    if (!ifMatchAllows(condition?.ifMatch, current.etag)) throw new FeaturePreconditionFailed(condition?.ifMatch)
    return current
  }

  /** Durable first, visible second: readers never see a write that a crash could lose. */
  async #commit (op: JournalOp): Promise<IndexedFeature | undefined> {
    if (this.#journal.fenced) {
      this.#events.writeRefused?.('fenced')
      throw new FeatureStoreUnavailable('writes are refused until a failed write is cut back from the journal')
    }
    try {
      await this.#journal.append(op)
    } catch (err) {
      this.#appendFailed(err)
      throw err
    }
    this.#writeFailure = undefined
    const stored = applyOp(this.#index, op)
    // Committed. Compacting is the store's own business from here on, never part of this write's answer.
    if (this.#journal.count >= this.#compactEvery || this.#journal.size >= this.#compactBytes) this.#compaction.start()
    return stored
  }

  /** The fenced journal cut back at last (or compacted meanwhile, which drops the torn bytes too): writes resume. */
  async #cutBack (): Promise<void> {
    if (this.#journal.fenced) await this.#journal.cutBack()
    this.#events.fenced?.(false)
    this.#log.info({ event: 'features.write_unfenced' }, 'the journal was cut back to its last whole write; feature writes are accepted again')
  }

  #appendFailed (err: unknown): void {
    this.#events.writeRefused?.('failed')
    if (this.#journal.fenced) {
      this.#events.fenced?.(true)
      this.#log.error({ event: 'features.write_fenced', err }, 'a failed journal append could not be cut back; feature writes are refused until it is')
      this.#unfence.later()
      return
    }
    const key = (err as { cause?: { code?: string } }).cause?.code ?? 'unknown'
    if (key === this.#writeFailure) return
    this.#writeFailure = key
    this.#log.error({ event: 'features.write_failed', err }, 'a feature write could not be made durable; it was cut back and answered 503')
  }

  async #compact (): Promise<void> {
    await this.#journal.compact(this.#index.defs, this.#index.entries())
  }

  /** Writes run one at a time, so an If-Match check and its write cannot interleave with another write. */
  async #exclusive<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return await run
  }
}

function applyOp (index: FeatureIndex, op: JournalOp): IndexedFeature | undefined {
  if (op.op === 'put') return index.put(op.org, op.collection, op.id, op.feature)
  index.delete(op.org, op.collection, op.id)
  return undefined
}
