// OGC API - Features (Part 1 Core, GeoJSON, OAS 3.0; Part 4 writes): thin handlers over the FeatureStore.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FeatureNotFound, notFound, Problem } from '../shared/errors.js'
import { noneMatch } from '../shared/etag.js'
import { validateFeature } from './geojson.js'
import { parseItemsQuery } from './query.js'
import { pageLinks, url, GEOJSON, JSON_TYPE, OPENAPI, type Link } from './links.js'
import type { CollectionDef, FeatureStore, OrgFeatures, StoredFeature, WriteCondition } from './store.js'
import * as S from './schemas.js'
import { ProblemSchema } from '../shared/problem.js'
import { readSecurity, writeSecurity } from './openapi.js'

export const CONFORMANCE = [
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
  'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30',
  'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete',
  'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update'
]
const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
const BODY_TYPES = ['application/geo+json', 'application/json']
const PATCH_TYPES = ['application/merge-patch+json', 'application/json']

/** `store` gives the collections; each request's data comes from request.orgFeatures (the feature plugin sets it). */
export interface FeatureRouteOptions { store: FeatureStore, base: string }

export default async function featureRoutes (app: FastifyInstance, opts: FeatureRouteOptions) {
  const { store, base } = opts
  // The scope each route requires, enforced by the preHandler and declared (security) for the OpenAPI document.
  const read = { preHandler: app.requireScope('features:read') }
  const write = { preHandler: app.requireScope('features:write') }
  const r = { security: readSecurity }
  const w = { security: writeSecurity }
  const errors = { '4xx': ProblemSchema }
  // A write the store cannot make durable is refused with Retry-After (src/features/problem.ts).
  const writeErrors = { ...errors, 503: ProblemSchema }

  const def = (id: string): CollectionDef => {
    const found = store.collection(id)
    if (found === undefined) throw notFound(`no collection ${id}`)
    return found
  }
  const itemUrl = (collection: string, id: string): string => url(base, `/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`)
  const collectionDoc = async (features: OrgFeatures, d: CollectionDef) => {
    const extent = await features.extent(d.id)
    const self = url(base, `/collections/${encodeURIComponent(d.id)}`)
    return {
      id: d.id,
      title: d.title,
      description: d.description,
      itemType: 'feature',
      crs: [CRS84],
      queryables: d.queryables,
      extent: {
        // OGC extent.yaml needs at least one box: an org without features here gets no spatial member.
        ...(extent.bbox === null ? {} : { spatial: { bbox: [extent.bbox], crs: CRS84 } }),
        temporal: { interval: [extent.interval], trs: 'http://www.opengis.net/def/uom/ISO-8601/0/Gregorian' }
      },
      links: [
        { href: self, rel: 'self', type: JSON_TYPE, title: d.title },
        { href: `${self}/items`, rel: 'items', type: GEOJSON, title: `${d.title} features` }
      ]
    }
  }
  const featureBody = (f: StoredFeature, collection: string): string => {
    const links: Link[] = [
      { href: itemUrl(collection, f.id), rel: 'self', type: GEOJSON },
      { href: url(base, `/collections/${encodeURIComponent(collection)}`), rel: 'collection', type: JSON_TYPE }
    ]
    return `${f.json.slice(0, -1)},"links":${JSON.stringify(links)}}`
  }
  const sendFeature = (reply: FastifyReply, f: StoredFeature, collection: string, status = 200): FastifyReply =>
    reply.code(status).header('etag', f.etag).type(GEOJSON).serializer(String).send(featureBody(f, collection))
  const requireType = (request: FastifyRequest, allowed: string[]): void => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
    if (!allowed.includes(type)) throw new Problem(415, 'Unsupported Media Type', `send ${allowed.join(' or ')}`)
  }
  const condition = (request: FastifyRequest): WriteCondition => ({ ifMatch: request.headers['if-match'] })

  app.get('/', { ...read, schema: { ...r, response: { 200: S.Landing, ...errors } } }, async () => ({
    title: 'geotoken features',
    description: 'OGC API - Features: each organization sees and changes only its own features',
    links: [
      { href: base, rel: 'self', type: JSON_TYPE, title: 'this document' },
      { href: url(base, '/api'), rel: 'service-desc', type: OPENAPI, title: 'the API definition' },
      { href: url(base, '/conformance'), rel: 'conformance', type: JSON_TYPE, title: 'conformance classes' },
      { href: url(base, '/collections'), rel: 'data', type: JSON_TYPE, title: 'collections' }
    ]
  }))

  // Sent byte-exact: GDAL's OAPIF driver rejects a reformatted media type (version="3.0"; charset).
  app.get('/api', { ...read, schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-type', OPENAPI).serializer(String).send(JSON.stringify(app.swagger())))

  app.get('/conformance', { ...read, schema: { ...r, response: { 200: S.Conformance, ...errors } } }, async () => ({ conformsTo: CONFORMANCE }))

  app.get('/collections', { ...read, schema: { ...r, response: { 200: S.Collections, ...errors } } }, async request => ({
    links: [{ href: url(base, '/collections'), rel: 'self', type: JSON_TYPE }],
    collections: await Promise.all(store.collections().map(async d => await collectionDoc(request.orgFeatures, d)))
  }))

  app.get<{ Params: S.CollectionParams }>('/collections/:collectionId', { ...read, schema: { ...r, params: S.CollectionParams, response: { 200: S.Collection, ...errors } } },
    async request => await collectionDoc(request.orgFeatures, def(request.params.collectionId)))

  app.get<{ Params: S.CollectionParams, Querystring: S.ItemsQuerystring }>('/collections/:collectionId/items', {
    ...read, schema: { ...r, params: S.CollectionParams, querystring: S.ItemsQuerystring, response: { 200: S.FeatureCollection, ...errors } }
  }, async (request, reply) => {
    const d = def(request.params.collectionId)
    const query = parseItemsQuery(request.query, d)
    const page = await request.orgFeatures.list(d.id, query)
    const returned = page.numberReturned ?? page.items.length
    const links = pageLinks(base, `/collections/${encodeURIComponent(d.id)}/items`, request.query, query.offset, query.limit, returned, page.numberMatched)
    const body = `{"type":"FeatureCollection","features":[${page.itemsJson ?? page.items.map(f => f.json).join(',')}],` +
      `"numberMatched":${page.numberMatched},"numberReturned":${returned},` +
      `"timeStamp":"${new Date().toISOString()}","links":${JSON.stringify(links)}}`
    return reply.type(GEOJSON).serializer(String).send(body)
  })

  app.get<{ Params: S.FeatureParams }>('/collections/:collectionId/items/:featureId', {
    ...read, schema: { ...r, params: S.FeatureParams, response: { 200: S.GeoJsonFeature, ...errors } }
  }, async (request, reply) => {
    const { collectionId, featureId } = request.params
    const found = await request.orgFeatures.get(def(collectionId).id, featureId)
    if (found === undefined) throw new FeatureNotFound(collectionId, featureId)
    if (noneMatch(request.headers['if-none-match'], found.etag)) return reply.code(304).header('etag', found.etag).send()
    return sendFeature(reply, found, collectionId)
  })

  app.post<{ Params: S.CollectionParams, Body: unknown }>('/collections/:collectionId/items', {
    ...write, schema: { ...w, consumes: BODY_TYPES, params: S.CollectionParams, body: S.FeatureBody, response: { 201: S.GeoJsonFeature, ...writeErrors } }
  }, async (request, reply) => {
    requireType(request, BODY_TYPES)
    const d = def(request.params.collectionId)
    const stored = await request.orgFeatures.create(d.id, validateFeature(request.body))
    request.log.info({ event: 'feature.created', org: request.orgFeatures.org, collection: d.id, id: stored.id }, 'feature created')
    return sendFeature(reply.header('location', itemUrl(d.id, stored.id)), stored, d.id, 201)
  })

  app.put<{ Params: S.FeatureParams, Body: unknown }>('/collections/:collectionId/items/:featureId', {
    ...write, schema: { ...w, consumes: BODY_TYPES, params: S.FeatureParams, body: S.FeatureBody, response: { 200: S.GeoJsonFeature, ...writeErrors } }
  }, async (request, reply) => {
    requireType(request, BODY_TYPES)
    const { collectionId, featureId } = request.params
    const d = def(collectionId)
    const stored = await request.orgFeatures.replace(d.id, featureId, validateFeature(request.body), condition(request))
    return sendFeature(reply, stored, d.id)
  })

  app.patch<{ Params: S.FeatureParams, Body: unknown }>('/collections/:collectionId/items/:featureId', {
    ...write, schema: { ...w, consumes: PATCH_TYPES, params: S.FeatureParams, body: S.FeatureBody, response: { 200: S.GeoJsonFeature, ...writeErrors } }
  }, async (request, reply) => {
    requireType(request, PATCH_TYPES)
    const { collectionId, featureId } = request.params
    const d = def(collectionId)
    // The store merges and writes atomically with the If-Match check: no concurrent write is lost.
    const stored = await request.orgFeatures.patch(d.id, featureId, request.body, condition(request))
    return sendFeature(reply, stored, d.id)
  })

  app.delete<{ Params: S.FeatureParams }>('/collections/:collectionId/items/:featureId', {
    ...write, schema: { ...w, params: S.FeatureParams, response: { 204: { type: 'null' }, ...writeErrors } }
  }, async (request, reply) => {
    const { collectionId, featureId } = request.params
    await request.orgFeatures.delete(def(collectionId).id, featureId, condition(request))
    return reply.code(204).send()
  })
}
