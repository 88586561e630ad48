// Owns the PostGIS feature store: published tables read and written in one transaction per request, each
// organization confined by the table's row-level security as well as by every statement's own condition.
import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { FeatureNotFound, FeaturePreconditionFailed, Problem } from '../../shared/errors.js'
import type { Log } from '../../shared/log.js'
import { validateFeature, type Feature } from '../geojson.js'
import { mergePatch } from '../merge-patch.js'
// The same strong ETag as every backend's (statements.ts computes the same hash in SQL for If-Match).
import { etagOf } from '../served.js'
import type { CollectionDef, Extent, FeatureStore, ItemsQuery, OrgFeatures, OrgId, Page, StoredFeature, WriteCondition } from '../store.js'
import { inspect } from './catalog.js'
import { collectionDef, readCollections, type PublishedCollection } from './collections.js'
import { clientProblem, Database, type DatabaseStatus } from './database.js'
import { FEATURE_SEPARATOR, TableStatements, type Statement, type WriteValues } from './statements.js'


/** One feature as served, read from the database: its id, ETag and object are read from the JSON when asked. */
export class PgFeature implements StoredFeature {
  readonly json: string
  #id: string | undefined
  #etag: string | undefined
  constructor (json: string) { this.json = json }
  // The id sits at a fixed place of the JSON the statements build: read without parsing the feature. A page of
  // items never asks (the route serves the JSON as it is).
  get id (): string { return (this.#id ??= JSON.parse(this.json.slice(this.json.indexOf('"id":') + 5, this.json.indexOf(',"geometry":'))) as string) }
  get etag (): string { return (this.#etag ??= etagOf(this.json)) }
  get feature (): Feature { return JSON.parse(this.json) as Feature }
}

export interface PgStoreOptions {
  url: string
  collectionsFile: string
  poolMax: number
  sharedConnections?: number
  timeoutMs: number
  probeMs?: number
  log: Log
}

/** If-Match as the list of tags a write may replace; null: no condition ("*" or no header: any current row). */
function tagsOf (ifMatch: string | undefined): string[] | null {
  if (ifMatch === undefined || ifMatch.trim() === '*') return null
  return ifMatch.split(',').map(tag => tag.trim())
}

const fromRow = (row: { json: string }): PgFeature => new PgFeature(row.json)

/**
 * A page from its query's one text (TableStatements.page): served as that text with commas for separators; the
 * features are split out only when asked (the items route never asks: a hundred strings and objects fewer).
 */
class PgPage implements Page {
  readonly numberMatched: number
  readonly numberReturned: number
  readonly #text: string
  #items: PgFeature[] | undefined
  constructor (text: string | null | undefined, numberMatched: number) {
    this.#text = text ?? ''
    this.numberMatched = numberMatched
    let n = this.#text === '' ? 0 : 1
    for (let at = this.#text.indexOf(FEATURE_SEPARATOR); at !== -1; at = this.#text.indexOf(FEATURE_SEPARATOR, at + 1)) n++
    this.numberReturned = n
  }

  get items (): PgFeature[] { return (this.#items ??= this.#text === '' ? [] : this.#text.split(FEATURE_SEPARATOR).map(json => new PgFeature(json))) }
  get itemsJson (): string { return this.#text.replaceAll(FEATURE_SEPARATOR, ',') }
}

/**
 * The PostGIS backend. Its org-taking methods serve PgOrgFeatures (forOrg): an OrgId comes only from a verified token.
 */
export class PgFeatureStore implements FeatureStore {
  readonly db: Database
  readonly #tables: Map<string, TableStatements>
  readonly #defs: CollectionDef[]

  private constructor (db: Database, tables: Map<string, TableStatements>) {
    this.db = db
    this.#tables = tables
    this.#defs = [...tables.values()].map(t => collectionDef(t.collection))
  }

  /** Reads the collections file, checks it against the catalog as the service's role (fail closed), opens the pool. */
  static async open (opts: PgStoreOptions): Promise<PgFeatureStore> {
    const collections = await readCollections(opts.collectionsFile)
    const db = new Database({ url: opts.url, poolMax: opts.poolMax, sharedConnections: opts.sharedConnections, timeoutMs: opts.timeoutMs, probeMs: opts.probeMs ?? 1000, log: opts.log })
    try {
      const tables = await PgFeatureStore.#check(db, collections, opts.collectionsFile, opts.log)
      return new PgFeatureStore(db, tables)
    } catch (err) {
      await db.close()
      throw err
    }
  }

  static async #check (db: Database, collections: PublishedCollection[], source: string, log: Log): Promise<Map<string, TableStatements>> {
    const client = await db.pool.connect()
    try {
      const { tables, warnings } = await inspect(client, collections, source)
      for (const warning of warnings) log.warn({ event: 'features.no_spatial_index' }, warning)
      return new Map(collections.map(c => [c.id, new TableStatements(c, tables.get(c.id) as NonNullable<ReturnType<typeof tables.get>>)]))
    } finally { client.release() }
  }

  forOrg (org: OrgId): OrgFeatures { return new PgOrgFeatures(this, org) }
  collections (): readonly CollectionDef[] { return this.#defs }
  collection (id: string): CollectionDef | undefined { return this.#defs.find(d => d.id === id) }
  status (): DatabaseStatus { return this.db.status }
  async close (): Promise<void> { await this.db.close() }

  #table (collection: string): TableStatements {
    const table = this.#tables.get(collection)
    if (table === undefined) throw new Problem(404, 'Not Found', `no collection ${collection}`)
    return table
  }

  async #read (org: OrgId, ...statements: Statement[]): Promise<pg.QueryResult[]> { return await this.db.read(org, statements) }
  async #write<T> (org: OrgId, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    try { return await this.db.withOrg(org, false, fn) } catch (err) { throw clientProblem(err) ?? err }
  }

  async extent (org: OrgId, collection: string): Promise<Extent> {
    // Every row of the organization: not on a shared connection, where it would hold up the reads behind it.
    const [result] = await this.db.read(org, [this.#table(collection).extent(org)], { exclusive: true })
    const row = result?.rows[0] as { minX: number | null, minY: number, maxX: number, maxY: number, t0: Date | null, t1: Date | null } | undefined
    return {
      bbox: row === undefined || row.minX === null ? null : [row.minX, row.minY, row.maxX, row.maxY],
      interval: [row?.t0?.toISOString() ?? null, row?.t1?.toISOString() ?? null]
    }
  }

  async list (org: OrgId, collection: string, q: ItemsQuery): Promise<Page> {
    const table = this.#table(collection)
    if (q.bbox !== undefined) {
      // A bbox selects few rows: page and count in one scan; only an empty page needs the count on its own.
      const [result] = await this.#read(org, table.counted(org, q))
      const row = result?.rows[0] as { page: string | null, n: string | null } | undefined
      if ((row?.page ?? null) !== null || (q.offset === 0 && q.limit > 0)) return new PgPage(row?.page, Number(row?.n ?? 0))
    }
    // Both in one round trip (a page past the last match is simply empty); a window count over every row of an
    // organization would sort them all, the page alone reads only its rows in order.
    const [counted, page] = await this.#read(org, table.count(org, q), table.page(org, q))
    return new PgPage((page?.rows[0] as { page: string | null } | undefined)?.page, Number((counted?.rows[0] as { n: string } | undefined)?.n ?? 0))
  }

  async get (org: OrgId, collection: string, id: string): Promise<PgFeature | undefined> {
    const table = this.#table(collection)
    if (!table.validId(id)) return undefined
    const [result] = await this.#read(org, table.one(org, id))
    const row = result?.rows[0] as { json: string } | undefined
    return row === undefined ? undefined : fromRow(row)
  }

  #values (table: TableStatements, feature: Feature): WriteValues {
    const v = table.writeValues(feature.properties, feature.geometry)
    if ('unknown' in v) throw new Problem(400, 'Bad Request', `property ${v.unknown} is not a column of collection ${table.collection.id}, which keeps no other properties`, `/properties/${v.unknown}`)
    return v
  }

  async create (org: OrgId, collection: string, feature: Feature): Promise<PgFeature> {
    const table = this.#table(collection)
    let id: string | null = null
    if (!table.info.idDefault) {
      if (table.info.idKind === 'integer') throw new Problem(405, 'Method Not Allowed', `the id column of collection ${collection} has no default, so geotoken cannot choose an id for a new feature`)
      id = randomUUID()
    }
    const s = table.insert(org, id, this.#values(table, feature))
    return fromRow(await this.#write(org, async c => (await c.query<{ json: string }>(s.text, s.values)).rows[0] as { json: string }))
  }

  /** A conditional write's statement changed nothing: the feature is missing (404) or its ETag differs (412). */
  async #missed (c: pg.PoolClient, table: TableStatements, org: OrgId, id: string, ifMatch: string | undefined, collection: string): Promise<never> {
    const e = table.exists(org, id)
    if (((await c.query(e.text, e.values)).rowCount ?? 0) === 0) throw new FeatureNotFound(collection, id)
    throw new FeaturePreconditionFailed(ifMatch)
  }

  async #update (c: pg.PoolClient, table: TableStatements, s: Statement, org: OrgId, id: string, ifMatch: string | undefined, collection: string): Promise<PgFeature> {
    const row = (await c.query<{ json: string }>(s.text, s.values)).rows[0]
    return row === undefined ? await this.#missed(c, table, org, id, ifMatch, collection) : fromRow(row)
  }

  /** Replaces a feature; `ifMatch` is compared in the UPDATE itself, so of two concurrent writes with one ETag one wins. */
  async replace (org: OrgId, collection: string, id: string, feature: Feature, ifMatch?: string): Promise<PgFeature> {
    const table = this.#table(collection)
    if (!table.validId(id)) throw new FeatureNotFound(collection, id)
    const s = table.update(org, id, this.#values(table, feature), tagsOf(ifMatch))
    return await this.#write(org, async c => await this.#update(c, table, s, org, id, ifMatch, collection))
  }

  /** RFC 7396 merge-patch on the row locked for this transaction: no write can come between reading and writing it. */
  async patch (org: OrgId, collection: string, id: string, patch: unknown, ifMatch?: string): Promise<PgFeature> {
    const table = this.#table(collection)
    if (!table.validId(id)) throw new FeatureNotFound(collection, id)
    return await this.#write(org, async c => {
      const one = table.one(org, id, true)
      const row = (await c.query<{ json: string }>(one.text, one.values)).rows[0]
      if (row === undefined) throw new FeatureNotFound(collection, id)
      const current = fromRow(row)
      const tags = tagsOf(ifMatch)
      if (tags !== null && !tags.includes(current.etag)) throw new FeaturePreconditionFailed(ifMatch)
      const { id: _id, ...base } = current.feature
      const merged = validateFeature({ ...(mergePatch(base, patch) as object), type: 'Feature' })
      return await this.#update(c, table, table.update(org, id, this.#values(table, merged), null), org, id, ifMatch, collection)
    })
  }

  async delete (org: OrgId, collection: string, id: string, ifMatch?: string): Promise<void> {
    const table = this.#table(collection)
    if (!table.validId(id)) throw new FeatureNotFound(collection, id)
    const s = table.delete(org, id, tagsOf(ifMatch))
    await this.#write(org, async c => {
      if (((await c.query(s.text, s.values)).rowCount ?? 0) === 0) await this.#missed(c, table, org, id, ifMatch, collection)
    })
  }
}

/** The store bound to one organization (FeatureStore.forOrg): every call runs in a transaction set to that org. */
class PgOrgFeatures implements OrgFeatures {
  readonly org: OrgId
  readonly #store: PgFeatureStore
  constructor (store: PgFeatureStore, org: OrgId) { this.#store = store; this.org = org }
  async get (collection: string, id: string): Promise<StoredFeature | undefined> { return await this.#store.get(this.org, collection, id) }
  async list (collection: string, query: ItemsQuery): Promise<Page> { return await this.#store.list(this.org, collection, query) }
  async extent (collection: string): Promise<Extent> { return await this.#store.extent(this.org, collection) }
  async create (collection: string, feature: Feature): Promise<StoredFeature> { return await this.#store.create(this.org, collection, feature) }
  async replace (collection: string, id: string, feature: Feature, condition?: WriteCondition): Promise<StoredFeature> {
    return await this.#store.replace(this.org, collection, id, feature, condition?.ifMatch)
  }
  async patch (collection: string, id: string, patch: unknown, condition?: WriteCondition): Promise<StoredFeature> {
    return await this.#store.patch(this.org, collection, id, patch, condition?.ifMatch)
  }
  async delete (collection: string, id: string, condition?: WriteCondition): Promise<void> {
    await this.#store.delete(this.org, collection, id, condition?.ifMatch)
  }
}
