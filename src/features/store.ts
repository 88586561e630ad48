// Owns the FeatureStore contract: what every feature backend (embedded, PostGIS) promises the routes. Types only,
// plus the one way an OrgId is made. test/features/store-contract.ts checks a backend against it.
import type { AccessTokenClaims } from '../tokens/claims.js'
import type { Feature } from './geojson.js'

declare const ORG: unique symbol
/**
 * An organization a verified access token names. Only orgOf() makes one, so a store handle cannot be opened for
 * an org taken from a path, a query or a body by mistake.
 */
export type OrgId = string & { readonly [ORG]: true }

/** The org of a token the guard has verified (request.user): read once per request, in the feature plugin. */
export const orgOf = (claims: AccessTokenClaims): OrgId => claims.org as OrgId

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

/** A feature as a backend serves it. */
export interface StoredFeature {
  readonly id: string
  /** Strong ETag (quoted): a hash of `json`, so equal representations have equal tags on every backend. */
  readonly etag: string
  /**
   * The feature as served, serialized once at write time: `{"type":"Feature","id",...,"geometry","properties"}`
   * with `properties.org` stamped last from the writer's OrgId (never taken from the body).
   */
  readonly json: string
  /** `json` as an object (parsed on access). */
  readonly feature: Feature
}

export interface ItemsQuery {
  /** [west, south, east, north] in CRS84; west > east crosses the antimeridian (OGC 17-069r4 §7.15.3). */
  bbox?: Bbox
  /** Inclusive interval in ms since the epoch; null is an open end. Features without a time never match. */
  datetime?: [number | null, number | null]
  /** Equality on queryable properties, compared as strings (`String(value)`). */
  properties: Record<string, string>
  limit: number
  offset: number
}

/** One page, in the collection's stable order (first insertion; a replace keeps its place). */
export interface Page {
  readonly items: StoredFeature[]
  numberMatched: number
  /** The items' JSON joined by commas, when the backend holds a page as one text: served without building `items`. */
  itemsJson?: string
  /** The number of items, when known without building them. */
  numberReturned?: number
}

/** The org's own extent; `bbox` null and `interval` [null, null] when it has nothing (with geometry, with time). */
export interface Extent { bbox: Bbox | null, interval: [string | null, string | null] }

/** Makes a write conditional on the feature's current ETag: If-Match (RFC 9110 §13.1.1, strong comparison, or *). */
export interface WriteCondition { ifMatch?: string | undefined }

/**
 * What /ready reports. `write-fenced`: every write is refused (APP_FEATURES_UNAVAILABLE) until the backend recovers;
 * `compaction-failing`: writes are still taken, but background upkeep keeps failing. A backend may report others.
 */
export type StoreStatus = 'ok' | 'write-fenced' | 'compaction-failing' | (string & {})

/**
 * One organization's view of the store, bound to its OrgId once: no method takes an org, so no call can reach
 * another organization's features. Another org's feature is indistinguishable from a missing one.
 *
 * Errors (src/shared/errors.ts): FeatureNotFound (APP_FEATURES_NOT_FOUND, 404), FeaturePreconditionFailed
 * (APP_FEATURES_PRECONDITION_FAILED, 412), FeatureStoreUnavailable (APP_FEATURES_UNAVAILABLE, 503: the write was not
 * applied, retry later), GeoJsonInvalid (a merge-patch result that is not a valid feature). An unknown collection
 * is the caller's to check (FeatureStore.collection()); a backend may throw on one.
 */
export interface OrgFeatures {
  readonly org: OrgId
  get (collection: string, id: string): Promise<StoredFeature | undefined>
  list (collection: string, query: ItemsQuery): Promise<Page>
  extent (collection: string): Promise<Extent>
  /** Stores `feature` under a new id (a UUID); any `id` or `properties.org` in it is ignored. Resolves once durable. */
  create (collection: string, feature: Feature): Promise<StoredFeature>
  /** Replaces an existing feature; the If-Match check and the write are one atomic step. */
  replace (collection: string, id: string, feature: Feature, condition?: WriteCondition): Promise<StoredFeature>
  /**
   * Applies an RFC 7396 merge patch to the current feature (its `id` cannot change, `properties.org` is stamped
   * again) and stores the result, atomically with the If-Match check: without If-Match no concurrent write is lost.
   */
  patch (collection: string, id: string, patch: unknown, condition?: WriteCondition): Promise<StoredFeature>
  delete (collection: string, id: string, condition?: WriteCondition): Promise<void>
}

/** A feature backend: shared collection definitions, per-org data behind forOrg(). */
export interface FeatureStore {
  /** The collections, fixed while the store is open (read at open: synchronous on every backend). */
  collections (): readonly CollectionDef[]
  collection (id: string): CollectionDef | undefined
  forOrg (org: OrgId): OrgFeatures
  /** What /ready reports about the store; 'ok' when it takes reads and writes. */
  status (): StoreStatus
  /** Waits for the writes under way, then releases files or connections. */
  close (): Promise<void>
}
