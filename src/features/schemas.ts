// Owns the feature API's HTTP shapes (TypeBox): params, the items query, every answer (OpenAPI). Types come from these
// schemas (Static); error answers use the one Problem schema (src/shared/problem.ts).
import Type, { type Static } from 'typebox'

const CollectionId = Type.String({ maxLength: 128 })

export const CollectionParams = Type.Object({ collectionId: CollectionId })
export type CollectionParams = Static<typeof CollectionParams>

export const FeatureParams = Type.Object({ collectionId: CollectionId, featureId: Type.String({ maxLength: 256 }) })
export type FeatureParams = Static<typeof FeatureParams>

/**
 * The standard parameters. Each collection's queryables are parameters too, so the schema cannot close the object:
 * src/features/query.ts refuses what is neither (its Querystring type is therefore a string record).
 */
export const ItemsQuerystring = Type.Object({
  bbox: Type.Optional(Type.String({ description: 'minLon,minLat,maxLon,maxLat (or 6 numbers with heights), CRS84' })),
  'bbox-crs': Type.Optional(Type.Unsafe<'http://www.opengis.net/def/crs/OGC/1.3/CRS84'>({ type: 'string', enum: ['http://www.opengis.net/def/crs/OGC/1.3/CRS84'] })),
  limit: Type.Optional(Type.String({ description: 'page size, 1..1000 (larger values return 1000), default 10' })),
  offset: Type.Optional(Type.String({ description: 'features to skip, default 0 (follow the next/prev links)' })),
  datetime: Type.Optional(Type.String({ description: 'RFC 3339 instant or interval start/end, ".." for an open end' })),
  f: Type.Optional(Type.Unsafe<'json' | 'geojson'>({ type: 'string', enum: ['json', 'geojson'] }))
}, { description: 'Also: equality filters on the collection\'s queryables (see the collection\'s description). Unknown parameters are refused.' })
export type ItemsQuerystring = Static<typeof ItemsQuerystring> & Record<string, string>

const Link = Type.Object({ href: Type.String(), rel: Type.String(), type: Type.Optional(Type.String()), title: Type.Optional(Type.String()) })
export type Link = Static<typeof Link>
const Links = Type.Array(Link)

export const Landing = Type.Object({ title: Type.Optional(Type.String()), description: Type.Optional(Type.String()), links: Links })

export const Conformance = Type.Object({ conformsTo: Type.Array(Type.String()) })

/** An interval end: an RFC 3339 instant or null (open). As written, not an anyOf: OpenAPI 3.0 documents it so. */
const IntervalEnd = Type.Unsafe<string | null>({ type: ['string', 'null'] })

export const Collection = Type.Object({
  id: Type.String(),
  title: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  itemType: Type.Optional(Type.String()),
  crs: Type.Optional(Type.Array(Type.String())),
  queryables: Type.Optional(Type.Array(Type.String())),
  extent: Type.Optional(Type.Object({
    spatial: Type.Optional(Type.Object({ bbox: Type.Optional(Type.Array(Type.Array(Type.Number()))), crs: Type.Optional(Type.String()) })),
    temporal: Type.Optional(Type.Object({ interval: Type.Optional(Type.Array(Type.Array(IntervalEnd))), trs: Type.Optional(Type.String()) }))
  })),
  links: Links
})
export type Collection = Static<typeof Collection>

export const Collections = Type.Object({ links: Links, collections: Type.Array(Collection) })

/** A member any JSON object may fill, or null (OpenAPI 3.0's `nullable`). */
const NullableObject = Type.Unsafe<Record<string, unknown> | null>({ type: 'object', nullable: true, additionalProperties: true })

export const GeoJsonFeature = Type.Object({
  type: Type.Unsafe<'Feature'>({ type: 'string', enum: ['Feature'] }),
  id: Type.Optional(Type.String()),
  geometry: NullableObject,
  properties: NullableObject,
  links: Type.Optional(Links)
}, { description: 'RFC 7946 Feature (pre-serialized: the schema documents it)' })

export const FeatureCollection = Type.Object({
  type: Type.Unsafe<'FeatureCollection'>({ type: 'string', enum: ['FeatureCollection'] }),
  features: Type.Array(GeoJsonFeature),
  numberMatched: Type.Optional(Type.Integer()),
  numberReturned: Type.Integer(),
  timeStamp: Type.Optional(Type.String()),
  links: Links
}, { description: 'RFC 7946 FeatureCollection with OGC paging members (pre-serialized: the schema documents it)' })

/** Any JSON object: src/features/geojson.ts validates it in depth, with a JSON pointer to what is wrong. */
export const FeatureBody = Type.Unsafe<unknown>({
  type: 'object',
  description: 'an RFC 7946 Feature; validated in depth by the server (geometry, coordinate ranges, ring closure)',
  additionalProperties: true
})
