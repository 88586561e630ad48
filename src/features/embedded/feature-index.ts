// Owns the embedded backend's in-memory index: org → collection → Partition, synchronous and pure (no I/O).
import { geometryBbox, type Feature } from '../geojson.js'
import type { CollectionDef, Extent, ItemsQuery, StoredFeature } from '../store.js'
import { Partition } from './partition.js'
import { etagOf, served } from '../served.js'

/** A stored feature as the index sees it: the served one plus its box, time and place in the order. */
export interface IndexedFeature extends StoredFeature {
  readonly minX: number
  readonly minY: number
  readonly maxX: number
  readonly maxY: number
  readonly hasGeometry: boolean
  /** ms since epoch of the temporal property, or null. */
  readonly time: number | null
  /** Position in the partition's first-insertion order: stable paging over bbox results. */
  readonly seq: number
}

/**
 * A stored feature as snapshots keep it: the served JSON plus what the index needs, so a load parses no GeoJSON.
 * Plain numbers (NaN: no time, or no geometry for `minX`) so a loader can reuse one record for every line.
 */
export interface FeatureRecord {
  org: string
  collection: string
  id: string
  json: string
  time: number
  minX: number
  minY: number
  maxX: number
  maxY: number
}

export interface IndexPage { items: IndexedFeature[], numberMatched: number }

/** A read-only view of one slot, made only for the features a caller asks for; the ETag is hashed on demand. */
class StoredView implements IndexedFeature {
  readonly id: string
  readonly json: string
  readonly seq: number
  readonly minX: number
  readonly minY: number
  readonly maxX: number
  readonly maxY: number
  readonly hasGeometry: boolean
  readonly time: number | null
  #etag: string | undefined

  constructor (partition: Partition, slot: number) {
    const box = partition.box(slot)
    this.id = partition.id(slot)
    this.json = partition.json(slot)
    this.seq = slot
    this.minX = box?.[0] ?? 0
    this.minY = box?.[1] ?? 0
    this.maxX = box?.[2] ?? 0
    this.maxY = box?.[3] ?? 0
    this.hasGeometry = box !== null
    this.time = partition.time(slot)
  }

  get etag (): string { return (this.#etag ??= etagOf(this.json)) }
  get feature (): Feature { return JSON.parse(this.json) as Feature }
}

/** Shapes a stored feature: the org is stamped from the caller's token, never taken from the body. */
function servedRecord (org: string, collection: string, id: string, input: Feature, def: CollectionDef): FeatureRecord {
  const { json, properties } = served(org, id, input)
  const raw = def.temporalProperty === undefined ? undefined : properties[def.temporalProperty]
  const box = geometryBbox(input.geometry)
  return {
    org,
    collection,
    id,
    json,
    time: typeof raw === 'string' ? Date.parse(raw) : NaN,
    minX: box?.[0] ?? NaN,
    minY: box?.[1] ?? NaN,
    maxX: box?.[2] ?? NaN,
    maxY: box?.[3] ?? NaN
  }
}

/**
 * Characters that JSON never escapes and that String() of an array or object cannot produce: a filter value made
 * only of them appears verbatim in the JSON of any feature it matches, so a substring test can rule features out
 * without parsing them.
 */
const VERBATIM = /^[\w .:+-]*$/

function matcher (partition: Partition, q: ItemsQuery): ((slot: number) => boolean) | null {
  const wanted = Object.entries(q.properties)
  if (q.datetime === undefined && wanted.length === 0) return null
  const [start, end] = q.datetime ?? [null, null]
  const quick = wanted.filter(([, value]) => VERBATIM.test(value)).map(([, value]) => value)
  return slot => {
    if (q.datetime !== undefined) {
      const time = partition.time(slot)
      if (time === null || (start !== null && time < start) || (end !== null && time > end)) return false
    }
    if (wanted.length === 0) return true
    const json = partition.json(slot)
    for (const value of quick) if (!json.includes(value)) return false
    const properties = (JSON.parse(json) as Feature).properties
    for (const [name, value] of wanted) {
      const actual = properties?.[name]
      if (actual === undefined || actual === null || String(actual) !== value) return false
    }
    return true
  }
}

/** A sorted array without its repeats (a feature found on both sides of the antimeridian). */
function unique (sorted: Uint32Array): Uint32Array {
  let n = 0
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i] as number
  return sorted.subarray(0, n)
}

/** Pure, synchronous index; durability is the embedded store's job. */
export class FeatureIndex {
  readonly #orgs = new Map<string, Map<string, Partition>>()
  readonly #defs: ReadonlyMap<string, CollectionDef>
  #restoring: { org: string, collection: string, partition: Partition } | undefined

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

  get (org: string, collection: string, id: string): IndexedFeature | undefined {
    const partition = this.#partition(org, collection, false)
    const slot = partition?.slot(id)
    return partition === undefined || slot === undefined ? undefined : new StoredView(partition, slot)
  }

  put (org: string, collection: string, id: string, input: Feature): IndexedFeature {
    const def = this.#defs.get(collection)
    if (def === undefined) throw new Error(`unknown collection ${collection}`)
    const partition = this.#partition(org, collection, true) as Partition
    const r = servedRecord(org, collection, id, input, def)
    return new StoredView(partition, partition.put(r.id, r.json, r.time, r.minX, r.minY, r.maxX, r.maxY))
  }

  /** Loads a record a snapshot kept as is: its JSON is already the served one. */
  restore (record: FeatureRecord): void {
    const { org, collection } = record
    // Snapshot lines come partition by partition: keep the last one rather than look it up a million times.
    let last = this.#restoring
    if (last?.org !== org || last.collection !== collection) {
      if (!this.#defs.has(collection)) throw new Error(`unknown collection ${collection}`)
      last = this.#restoring = { org, collection, partition: this.#partition(org, collection, true) as Partition }
    }
    last.partition.load(record.id, record.json, record.time, record.minX, record.minY, record.maxX, record.maxY)
  }

  delete (org: string, collection: string, id: string): boolean {
    return this.#partition(org, collection, false)?.delete(id) ?? false
  }

  /** Builds every partition's static index now rather than on its first query. */
  seal (): void {
    this.#restoring = undefined
    for (const byCollection of this.#orgs.values()) for (const partition of byCollection.values()) partition.seal()
  }

  list (org: string, collection: string, q: ItemsQuery): IndexPage {
    const partition = this.#partition(org, collection, false)
    if (partition === undefined) return { items: [], numberMatched: 0 }
    let candidates: Uint32Array
    if (q.bbox === undefined) {
      candidates = partition.live()
    } else {
      const [minX, minY, maxX, maxY] = q.bbox
      const found: number[] = []
      // A bbox whose west edge is east of its east edge crosses the antimeridian (OGC 17-069r4 §7.15.3).
      if (minX <= maxX) {
        partition.search(minX, minY, maxX, maxY, found)
      } else {
        partition.search(minX, minY, 180, maxY, found)
        partition.search(-180, minY, maxX, maxY, found)
      }
      // Slots are the partition's order; a typed array sorts numbers natively.
      candidates = new Uint32Array(found).sort()
      if (minX > maxX) candidates = unique(candidates)
    }
    const keep = matcher(partition, q)
    let matched: ArrayLike<number> = candidates
    if (keep !== null) {
      const kept: number[] = []
      for (let i = 0; i < candidates.length; i++) if (keep(candidates[i] as number)) kept.push(candidates[i] as number)
      matched = kept
    }
    const end = Math.min(matched.length, q.offset + q.limit)
    const items: IndexedFeature[] = []
    for (let i = q.offset; i < end; i++) items.push(new StoredView(partition, matched[i] as number))
    return { items, numberMatched: matched.length }
  }

  /** The org's own extent: nothing of another organization's data shapes it. */
  extent (org: string, collection: string): Extent {
    const extent = this.#partition(org, collection, false)?.extent()
    const time = extent?.time ?? null
    return {
      bbox: extent?.box ?? null,
      interval: time === null ? [null, null] : [new Date(time[0]).toISOString(), new Date(time[1]).toISOString()]
    }
  }

  /** Every feature, partition by partition in order, for snapshots. */
  * entries (): Generator<{ org: string, collection: string, feature: IndexedFeature }> {
    for (const [org, byCollection] of this.#orgs) {
      for (const [collection, partition] of byCollection) {
        for (const slot of partition.live()) yield { org, collection, feature: new StoredView(partition, slot) }
      }
    }
  }
}
