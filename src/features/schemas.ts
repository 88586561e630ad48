// JSON schemas of the feature API: validation of params and documentation of every response (OpenAPI).
export const CollectionParams = {
  type: 'object',
  properties: { collectionId: { type: 'string', maxLength: 128 } },
  required: ['collectionId']
} as const

export const FeatureParams = {
  type: 'object',
  properties: { collectionId: { type: 'string', maxLength: 128 }, featureId: { type: 'string', maxLength: 256 } },
  required: ['collectionId', 'featureId']
} as const

export const ItemsQuerystring = {
  type: 'object',
  description: 'Also: equality filters on the collection\'s queryables (see the collection\'s description). Unknown parameters are refused.',
  properties: {
    bbox: { type: 'string', description: 'minLon,minLat,maxLon,maxLat (or 6 numbers with heights), CRS84' },
    'bbox-crs': { type: 'string', enum: ['http://www.opengis.net/def/crs/OGC/1.3/CRS84'] },
    limit: { type: 'string', description: 'page size, 1..1000 (larger values return 1000), default 10' },
    offset: { type: 'string', description: 'features to skip, default 0 (follow the next/prev links)' },
    datetime: { type: 'string', description: 'RFC 3339 instant or interval start/end, ".." for an open end' },
    f: { type: 'string', enum: ['json', 'geojson'] }
  }
} as const

const Link = {
  type: 'object',
  properties: { href: { type: 'string' }, rel: { type: 'string' }, type: { type: 'string' }, title: { type: 'string' } },
  required: ['href', 'rel']
} as const
const Links = { type: 'array', items: Link } as const

export const Problem = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, parameter: { type: 'string' }, error: { type: 'string' } },
  required: ['type', 'title', 'status']
} as const

export const Landing = {
  type: 'object',
  properties: { title: { type: 'string' }, description: { type: 'string' }, links: Links },
  required: ['links']
} as const

export const Conformance = {
  type: 'object',
  properties: { conformsTo: { type: 'array', items: { type: 'string' } } },
  required: ['conformsTo']
} as const

export const Collection = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    itemType: { type: 'string' },
    crs: { type: 'array', items: { type: 'string' } },
    queryables: { type: 'array', items: { type: 'string' } },
    extent: {
      type: 'object',
      properties: {
        spatial: { type: 'object', properties: { bbox: { type: 'array', items: { type: 'array', items: { type: 'number' } } }, crs: { type: 'string' } } },
        temporal: { type: 'object', properties: { interval: { type: 'array', items: { type: 'array', items: { type: ['string', 'null'] } } }, trs: { type: 'string' } } }
      }
    },
    links: Links
  },
  required: ['id', 'links']
} as const

export const Collections = {
  type: 'object',
  properties: { links: Links, collections: { type: 'array', items: Collection } },
  required: ['links', 'collections']
} as const

export const GeoJsonFeature = {
  type: 'object',
  description: 'RFC 7946 Feature (pre-serialized: the schema documents it)',
  properties: { type: { type: 'string', enum: ['Feature'] }, id: { type: 'string' }, geometry: { type: 'object', nullable: true, additionalProperties: true }, properties: { type: 'object', nullable: true, additionalProperties: true }, links: Links },
  required: ['type', 'geometry', 'properties']
} as const

export const FeatureCollection = {
  type: 'object',
  description: 'RFC 7946 FeatureCollection with OGC paging members (pre-serialized: the schema documents it)',
  properties: {
    type: { type: 'string', enum: ['FeatureCollection'] },
    features: { type: 'array', items: GeoJsonFeature },
    numberMatched: { type: 'integer' },
    numberReturned: { type: 'integer' },
    timeStamp: { type: 'string' },
    links: Links
  },
  required: ['type', 'features', 'numberReturned', 'links']
} as const

export const FeatureBody = {
  type: 'object',
  description: 'an RFC 7946 Feature; validated in depth by the server (geometry, coordinate ranges, ring closure)',
  additionalProperties: true
} as const
