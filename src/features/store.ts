// Owns the in-memory feature index: org → collection → features, with a spatial index per partition.
import { createHash } from 'node:crypto'
import RBush from 'rbush'
import { geometryBbox, type Feature } from './geojson.js'

export type Bbox = [number, number, number, number]

/** A collection's shared definition: every organization sees the same metadata, never another's data. */
export interface CollectionDef {
  id: string
  title: string
  description: string
  /** Property holding each feature's instant (RFC 3339), used by `datetime`. */
  temporalProperty?: string
  /** Properties that may be filtered on by equality. */
  queryables: string[]
}

export interface StoredFeature {
  readonly id: string
  /** Strong ETag: a hash of the stored representation. */
  readonly etag: string
  /** The feature as served (id set, properties.org stamped), serialized once at write time. */
  readonly json: string
  readonly feature: Feature
  readonly minX: number
  readonly minY: number
  readonly maxX: number
  readonly maxY: number
  readonly hasGeometry: boolean
  /** ms since epoch of the temporal property, or null. */
  readonly time: number | null
  /** First-insertion order: stable paging over bbox results. */
  readonly seq: number
}

export interface ItemsQuery {
  bbox?: Bbox
  /** Inclusive interval in ms; null is an open end. */
  datetime?: [number | null, number | null]
  properties: Record<string, string>
  limit: number
  offset: number
}

export interface Page { items: StoredFeature[], numberMatched: number }

export interface Extent { bbox: Bbox | null, interval: [string | null, string | null] }

/** The seam a shared database (PostGIS) can fill later: every method takes the org first. */
export interface FeatureStore {
  collections (): readonly CollectionDef[]
  collection (id: string): CollectionDef | undefined
  extent (org: string, collection: string): Extent
  list (org: string, collection: string, query: ItemsQuery): Page
  get (org: string, collection: string, id: string): StoredFeature | undefined
  /** Writes resolve only once durable. `ifMatch` (an ETag) makes replace/delete conditional. */
  create (org: string, collection: string, feature: Feature): Promise<StoredFeature>
  replace (org: string, collection: string, id: string, feature: Feature, ifMatch?: string): Promise<StoredFeature>
  delete (org: string, collection: string, id: string, ifMatch?: string): Promise<void>
  close (): Promise<void>
}

class Partition {
  readonly features = new Map<string, StoredFeature>()
  readonly tree = new RBush<StoredFeature>()
}

/** Shapes a stored feature: the org is stamped from the caller's token, never taken from the body. */
export function storedFeature (org: string, id: string, input: Feature, def: CollectionDef, seq: number): StoredFeature {
  // Any org in the body is dropped first so the stamped one always sits last: the served JSON (and its ETag)
  // is then the same whether the feature came from a request, the journal or a compacted snapshot.
  const { org: _ignored, ...own } = input.properties ?? {}
  const properties: Record<string, unknown> = { ...own, org }
  const feature: Feature = { type: 'Feature', id, geometry: input.geometry, properties }
  const json = JSON.stringify(feature)
  const bbox = geometryBbox(input.geometry)
  const raw = def.temporalProperty === undefined ? undefined : properties[def.temporalProperty]
  const parsed = typeof raw === 'string' ? Date.parse(raw) : NaN
  return {
    id,
    etag: `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`,
    json,
    feature,
    minX: bbox?.[0] ?? 0,
    minY: bbox?.[1] ?? 0,
    maxX: bbox?.[2] ?? 0,
    maxY: bbox?.[3] ?? 0,
    hasGeometry: bbox !== null,
    time: Number.isNaN(parsed) ? null : parsed,
    seq
  }
}

function matches (f: StoredFeature, q: ItemsQuery): boolean {
  if (q.datetime !== undefined) {
    const [start, end] = q.datetime
    if (f.time === null || (start !== null && f.time < start) || (end !== null && f.time > end)) return false
  }
  for (const [name, value] of Object.entries(q.properties)) {
    const actual = f.feature.properties?.[name]
    if (actual === undefined || actual === null || String(actual) !== value) return false
  }
  return true
}

/** Pure, synchronous index; durability is the embedded store's job. */
export class FeatureIndex {
  readonly #orgs = new Map<string, Map<string, Partition>>()
  readonly #defs: ReadonlyMap<string, CollectionDef>
  #seq = 0

  constructor (defs: readonly CollectionDef[]) {
    this.#defs = new Map(defs.map(d => [d.id, d]))
  }

  get defs (): readonly CollectionDef[] { return [...this.#defs.values()] }
  def (id: string): CollectionDef | undefined { return this.#defs.get(id) }

  #partition (org: string, collection: string, create: boolean): Partition | undefined {
    let byCollection = this.#orgs.get(org)
    if (byCollection === undefined) {
      if (!create) return undefined
      byCollection = new Map()
      this.#orgs.set(org, byCollection)
    }
    let partition = byCollection.get(collection)
    if (partition === undefined && create) {
      partition = new Partition()
      byCollection.set(collection, partition)
    }
    return partition
  }

  get (org: string, collection: string, id: string): StoredFeature | undefined {
    return this.#partition(org, collection, false)?.features.get(id)
  }

  put (org: string, collection: string, id: string, input: Feature): StoredFeature {
    const def = this.#defs.get(collection)
    if (def === undefined) throw new Error(`unknown collection ${collection}`)
    const partition = this.#partition(org, collection, true) as Partition
    const previous = partition.features.get(id)
    const stored = storedFeature(org, id, input, def, previous?.seq ?? this.#seq++)
    if (previous?.hasGeometry === true) partition.tree.remove(previous)
    partition.features.set(id, stored)
    if (stored.hasGeometry) partition.tree.insert(stored)
    return stored
  }

  delete (org: string, collection: string, id: string): boolean {
    const partition = this.#partition(org, collection, false)
    const previous = partition?.features.get(id)
    if (partition === undefined || previous === undefined) return false
    partition.features.delete(id)
    if (previous.hasGeometry) partition.tree.remove(previous)
    return true
  }

  list (org: string, collection: string, q: ItemsQuery): Page {
    const partition = this.#partition(org, collection, false)
    if (partition === undefined) return { items: [], numberMatched: 0 }
    let candidates: StoredFeature[]
    if (q.bbox === undefined) {
      candidates = [...partition.features.values()]
    } else {
      const [minX, minY, maxX, maxY] = q.bbox
      // A bbox whose west edge is east of its east edge crosses the antimeridian (OGC 17-069r4 §7.15.3).
      candidates = minX <= maxX
        ? partition.tree.search({ minX, minY, maxX, maxY })
        : [...partition.tree.search({ minX, minY, maxX: 180, maxY }), ...partition.tree.search({ minX: -180, minY, maxX, maxY })]
      candidates = [...new Set(candidates)].sort((a, b) => a.seq - b.seq)
    }
    const matched = q.datetime === undefined && Object.keys(q.properties).length === 0 ? candidates : candidates.filter(f => matches(f, q))
    return { items: matched.slice(q.offset, q.offset + q.limit), numberMatched: matched.length }
  }

  /** The org's own extent: nothing of another organization's data shapes it. */
  extent (org: string, collection: string): Extent {
    const partition = this.#partition(org, collection, false)
    if (partition === undefined || partition.features.size === 0) return { bbox: null, interval: [null, null] }
    const root = partition.tree.toJSON() as { minX: number, minY: number, maxX: number, maxY: number, children: unknown[] }
    let min = Infinity
    let max = -Infinity
    for (const f of partition.features.values()) {
      if (f.time !== null) { if (f.time < min) min = f.time; if (f.time > max) max = f.time }
    }
    return {
      bbox: root.children.length > 0 ? [root.minX, root.minY, root.maxX, root.maxY] : null,
      interval: min === Infinity ? [null, null] : [new Date(min).toISOString(), new Date(max).toISOString()]
    }
  }

  /** Every feature, for snapshots. */
  * entries (): Generator<{ org: string, collection: string, feature: StoredFeature }> {
    for (const [org, byCollection] of this.#orgs) {
      for (const [collection, partition] of byCollection) {
        for (const feature of partition.features.values()) yield { org, collection, feature }
      }
    }
  }
}
