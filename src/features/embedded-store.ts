// Owns the embedded FeatureStore: the in-memory index made durable by the journal, seeded on first start.
import { randomUUID } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { notFound, preconditionFailed, SeedInvalid } from '../errors.js'
import { ifMatchAllows } from '../etag.js'
import type { Log } from '../keys/store.js'
import { validateFeature, type Feature } from './geojson.js'
import { Journal, readJournal, readSnapshot, type JournalOp } from './journal.js'
import { FeatureIndex, type CollectionDef, type Extent, type FeatureStore, type ItemsQuery, type Page, type StoredFeature } from './store.js'

export interface EmbeddedStoreOptions {
  /** Directory of snapshot.jsonl and journal.log. */
  dir: string
  /** GeoJSON FeatureCollection with a `collections` member, loaded when the store is empty. */
  seedFile?: string
  /** Journal length that triggers a compaction into a new snapshot. */
  compactEvery?: number
  log: Log
}

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
  #queue: Promise<unknown> = Promise.resolve()

  private constructor (index: FeatureIndex, journal: Journal, compactEvery: number) {
    this.#index = index
    this.#journal = journal
    this.#compactEvery = compactEvery
  }

  static async open (opts: EmbeddedStoreOptions): Promise<EmbeddedFeatureStore> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 })
    const snapshot = await readSnapshot(opts.dir)
    const ops = await readJournal(opts.dir, msg => { opts.log.warn({ event: 'features.torn_write' }, msg) })
    let index = snapshot?.index
    let seeded: number | undefined
    if (snapshot === null && ops.length === 0 && opts.seedFile !== undefined && opts.seedFile !== '') {
      const seed = await readSeed(opts.seedFile)
      index = new FeatureIndex(seed.collections)
      for (const e of seed.entries) index.put(e.org, e.collection, String(e.feature.id), e.feature)
      seeded = seed.entries.length
    }
    index ??= new FeatureIndex([])
    for (const op of ops) applyOp(index, op)
    index.seal()
    const journal = await Journal.open(opts.dir, ops.length)
    const store = new EmbeddedFeatureStore(index, journal, opts.compactEvery ?? 10_000)
    if (seeded !== undefined) {
      await store.#compact()
      opts.log.info({ event: 'features.seeded', file: opts.seedFile, features: seeded }, 'feature store seeded')
    } else if (snapshot !== null && snapshot.version < 2) {
      await store.#compact()
      opts.log.info({ event: 'features.snapshot_upgraded', version: 2 }, 'feature snapshot rewritten in the current format')
    }
    return store
  }

  collections (): readonly CollectionDef[] { return this.#index.defs }
  collection (id: string): CollectionDef | undefined { return this.#index.def(id) }
  extent (org: string, collection: string): Extent { return this.#index.extent(org, collection) }
  list (org: string, collection: string, query: ItemsQuery): Page { return this.#index.list(org, collection, query) }
  get (org: string, collection: string, id: string): StoredFeature | undefined { return this.#index.get(org, collection, id) }

  async create (org: string, collection: string, feature: Feature): Promise<StoredFeature> {
    return await this.#exclusive(async () => {
      const id = randomUUID()
      return await this.#commit({ op: 'put', org, collection, id, feature }) as StoredFeature
    })
  }

  async replace (org: string, collection: string, id: string, feature: Feature, ifMatch?: string): Promise<StoredFeature> {
    return await this.#exclusive(async () => {
      this.#current(org, collection, id, ifMatch)
      return await this.#commit({ op: 'put', org, collection, id, feature }) as StoredFeature
    })
  }

  async delete (org: string, collection: string, id: string, ifMatch?: string): Promise<void> {
    await this.#exclusive(async () => {
      this.#current(org, collection, id, ifMatch)
      await this.#commit({ op: 'del', org, collection, id })
    })
  }

  async close (): Promise<void> {
    await this.#exclusive(async () => { await this.#journal.close() })
  }

  #current (org: string, collection: string, id: string, ifMatch: string | undefined): StoredFeature {
    const current = this.#index.get(org, collection, id)
    if (current === undefined) throw notFound(`no feature ${id} in collection ${collection}`)
    if (!ifMatchAllows(ifMatch, current.etag)) throw preconditionFailed(ifMatch)
    return current
  }

  /** Durable first, visible second: readers never see a write that a crash could lose. */
  async #commit (op: JournalOp): Promise<StoredFeature | undefined> {
    await this.#journal.append(op)
    const stored = applyOp(this.#index, op)
    if (this.#journal.count >= this.#compactEvery) await this.#compact()
    return stored
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

function applyOp (index: FeatureIndex, op: JournalOp): StoredFeature | undefined {
  if (op.op === 'put') return index.put(op.org, op.collection, op.id, op.feature)
  index.delete(op.org, op.collection, op.id)
  return undefined
}
