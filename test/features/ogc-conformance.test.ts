// OGC API - Features conformance: Part 1 (OGC 17-069r4, Annex A) and Part 4 (create-replace-delete, update),
// one test per abstract test, named after its requirement id; every request goes through app.inject with a real token.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { build, tokenFor, type Built } from '../helpers/app.js'
import { CONFORMANCE } from '../../src/features/routes.js'
import { validateFeature } from '../../src/features/geojson.js'

type Tap = Parameters<typeof build>[0] & Pick<typeof t, 'equal' | 'ok' | 'match' | 'notMatch' | 'type' | 'same' | 'fail'>

const ORIGIN = 'http://geotoken.test'
const BASE = `${ORIGIN}/features`
const GEOJSON = 'application/geo+json'
const OPENAPI = 'application/vnd.oai.openapi+json;version=3.0'

interface Link { href: string, rel: string, type?: string, title?: string }
interface Feature { type: 'Feature', id: string, geometry: unknown, properties: Record<string, unknown> | null, links?: Link[] }
interface FeatureCollection { type: string, features: Feature[], numberMatched: number, numberReturned: number, timeStamp: string, links: Link[] }
interface Problem { type: string, title: string, status: number, detail: string, parameter?: string, error?: string }
interface CollectionDoc {
  id: string
  title: string
  itemType: string
  crs: string[]
  queryables: string[]
  extent: { spatial: { bbox: number[][], crs: string }, temporal: { interval: Array<Array<string | null>>, trs: string } }
  links: Link[]
}

/** The small seed of test/helpers/app.ts: acme has a1..a3 in sites (and n1 in networks); globex has g1, g2 in sites. */
const ACME_SITES = ['a1', 'a2', 'a3']
const ACME_SITES_BBOX = [2.35, 48.0, 6.0, 50.85]
const ACME_SITES_INTERVAL = ['2025-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z']

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

async function setup (t: Tap) {
  const built = await build(t)
  const { app, clients } = built
  const token = await tokenFor(app, clients.acme)
  const bearer = (tok: string): Record<string, string> => ({ authorization: `Bearer ${tok}` })
  const auth = bearer(token)
  const get = async (path: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'GET', url: path, headers: { ...auth, ...headers } })
  const send = async (method: Method, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    await app.inject({
      method,
      url: path,
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : GEOJSON }), ...headers },
      ...(body === undefined ? {} : { payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) })
    })
  const items = async (query = '', collection = 'sites'): Promise<LightMyRequestResponse> =>
    await get(`/features/collections/${collection}/items${query === '' ? '' : `?${query}`}`)
  const ids = async (query: string): Promise<string[]> => {
    const res = await items(query)
    t.equal(res.statusCode, 200, `?${query} answers 200`)
    return (res.json() as FeatureCollection).features.map(f => f.id)
  }
  const matched = async (collection = 'sites'): Promise<number> => (((await items('', collection)).json()) as FeatureCollection).numberMatched
  return { ...built, token, auth, bearer, get, send, items, ids, matched }
}

/** An absolute href on the public base, as a path app.inject can follow. */
function pathOf (t: Tap, href: string): string {
  t.ok(href.startsWith(`${ORIGIN}/`), `${href} is absolute on the public origin`)
  return href.slice(ORIGIN.length)
}

function rel (links: Link[], name: string): Link | undefined {
  return links.find(l => l.rel === name)
}

/** Every error answer: RFC 9457 problem+json with type, title, status and detail, and no stack trace. */
function problem (t: Tap, res: LightMyRequestResponse, status: number, what: string): Problem {
  // One failure per wrong answer, not a cascade: the checks below only make sense on an error answer.
  if (!t.equal(res.statusCode, status, `${what}: ${status}`)) return { type: '', title: '', status: res.statusCode, detail: '' }
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: application/problem+json`)
  const body = res.json() as Problem
  t.type(body.type, 'string', `${what}: has type`)
  t.type(body.title, 'string', `${what}: has title`)
  t.equal(body.status, status, `${what}: status member matches`)
  t.type(body.detail, 'string', `${what}: has detail`)
  t.notMatch(res.body, /"stack"|\n\s+at |at [A-Za-z.<>]+ \(/, `${what}: no stack trace`)
  return body
}

function badParam (t: Tap, res: LightMyRequestResponse, param: string, what: string): Problem {
  const body = problem(t, res, 400, what)
  if (res.statusCode !== 400) return body
  t.equal(body.parameter, param, `${what}: parameter names ${param}`)
  t.match(body.detail, param, `${what}: detail names ${param}`)
  return body
}

const point = (lon: number, lat: number, properties: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties })

// ---------------------------------------------------------------- Part 1, core: landing page, conformance

t.test('/conf/core/root-op: GET on the landing page answers 200 (with and without the trailing slash)', async t => {
  const { get } = await setup(t)
  for (const path of ['/features', '/features/']) {
    const res = await get(path)
    t.equal(res.statusCode, 200, `${path}: 200`)
    t.match(res.headers['content-type'], /^application\/json/, `${path}: JSON`)
  }
})

t.test('/conf/core/root-success: the landing page links self, service-desc, conformance and data, each with a type', async t => {
  const { get } = await setup(t)
  const body = (await get('/features')).json() as { title?: string, links: Link[] }
  t.type(body.title, 'string')
  const expected: Record<string, [string, string]> = {
    self: [BASE, 'application/json'],
    'service-desc': [`${BASE}/api`, OPENAPI],
    conformance: [`${BASE}/conformance`, 'application/json'],
    data: [`${BASE}/collections`, 'application/json']
  }
  for (const [name, [href, type]] of Object.entries(expected)) {
    const link = rel(body.links, name)
    t.ok(link, `rel=${name} is present`)
    t.equal(link?.href, href, `rel=${name} href`)
    t.equal(link?.type, type, `rel=${name} type`)
  }
  for (const link of body.links) {
    const res = await get(pathOf(t, link.href))
    t.equal(res.statusCode, 200, `rel=${link.rel} resolves`)
  }
})

t.test('/conf/core/conformance-op: GET /conformance answers 200 JSON', async t => {
  const { get } = await setup(t)
  const res = await get('/features/conformance')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
})

t.test('/conf/core/conformance-success: conformsTo lists exactly the five implemented classes', async t => {
  const { get } = await setup(t)
  const body = (await get('/features/conformance')).json() as { conformsTo: string[] }
  t.same([...body.conformsTo].sort(), [...CONFORMANCE].sort())
  t.equal(body.conformsTo.length, 5)
  t.equal(new Set(body.conformsTo).size, 5, 'no duplicates')
  for (const cls of ['ogcapi-features-1/1.0/conf/core', 'ogcapi-features-1/1.0/conf/geojson', 'ogcapi-features-1/1.0/conf/oas30',
    'ogcapi-features-4/1.0/conf/create-replace-delete', 'ogcapi-features-4/1.0/conf/update']) {
    t.ok(body.conformsTo.includes(`http://www.opengis.net/spec/${cls}`), cls)
  }
})

// ---------------------------------------------------------------- collections

t.test('/conf/core/fc-md-op: GET /collections answers 200 JSON', async t => {
  const { get } = await setup(t)
  const res = await get('/features/collections')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
})

t.test('/conf/core/fc-md-success: the collections document links itself and lists every collection', async t => {
  const { get } = await setup(t)
  const body = (await get('/features/collections')).json() as { links: Link[], collections: CollectionDoc[] }
  t.equal(rel(body.links, 'self')?.href, `${BASE}/collections`)
  t.same(body.collections.map(c => c.id).sort(), ['networks', 'sites'])
  for (const c of body.collections) {
    t.type(c.title, 'string', `${c.id}: title`)
    t.equal(c.itemType, 'feature', `${c.id}: itemType`)
    t.ok(c.crs.includes('http://www.opengis.net/def/crs/OGC/1.3/CRS84'), `${c.id}: CRS84`)
  }
})

t.test('/conf/core/fc-md-links: each collection links itself (self) and its items', async t => {
  const { get } = await setup(t)
  const body = (await get('/features/collections')).json() as { collections: CollectionDoc[] }
  for (const c of body.collections) {
    const self = rel(c.links, 'self')
    t.equal(self?.href, `${BASE}/collections/${c.id}`, `${c.id}: self`)
    t.equal(self?.type, 'application/json', `${c.id}: self type`)
    const res = await get(pathOf(t, self?.href ?? ''))
    t.equal(res.statusCode, 200, `${c.id}: self resolves`)
    t.same(res.json(), c, `${c.id}: the collection document equals its entry in /collections`)
  }
})

t.test('/conf/core/fc-md-items: each collection\'s items link is GeoJSON and resolves to a FeatureCollection', async t => {
  const { get } = await setup(t)
  const body = (await get('/features/collections')).json() as { collections: CollectionDoc[] }
  for (const c of body.collections) {
    const link = rel(c.links, 'items')
    t.equal(link?.href, `${BASE}/collections/${c.id}/items`, `${c.id}: items href`)
    t.equal(link?.type, GEOJSON, `${c.id}: items type`)
    const res = await get(pathOf(t, link?.href ?? ''))
    t.equal(res.statusCode, 200)
    t.equal((res.json() as FeatureCollection).type, 'FeatureCollection')
  }
})

t.test('/conf/core/fc-md-extent: the extent is the caller\'s own features\', never widened by another org\'s', async t => {
  const { get, app, clients, bearer } = await setup(t)
  const extentOf = async (): Promise<CollectionDoc['extent']> => ((await get('/features/collections/sites')).json() as CollectionDoc).extent
  const before = await extentOf()
  t.same(before.spatial.bbox, [ACME_SITES_BBOX], 'bbox of a1..a3 only (globex g2 at 6.1,48.1 would widen it)')
  t.equal(before.spatial.crs, 'http://www.opengis.net/def/crs/OGC/1.3/CRS84')
  t.same(before.temporal.interval, [ACME_SITES_INTERVAL], 'interval of a1..a3 only')
  t.type(before.temporal.trs, 'string')

  // globex writes far outside acme's extent, in space and time: acme's extent does not move.
  const globex = bearer(await tokenFor(app, clients.globex))
  const created = await app.inject({
    method: 'POST', url: '/features/collections/sites/items', headers: { ...globex, 'content-type': GEOJSON },
    payload: JSON.stringify(point(-170, -80, { kind: 'yard', observed_at: '1990-01-01T00:00:00Z' }))
  })
  t.equal(created.statusCode, 201)
  t.same(await extentOf(), before, 'unchanged by globex\'s new feature')
  const globexExtent = ((await app.inject({ url: '/features/collections/sites', headers: globex })).json() as CollectionDoc).extent
  t.same(globexExtent.spatial.bbox, [[-170, -80, 6.1, 48.1]], 'globex sees its own extent')
  t.same(globexExtent.temporal.interval, [['1990-01-01T00:00:00.000Z', '2025-09-01T00:00:00.000Z']])

  const networks = ((await get('/features/collections/networks')).json() as CollectionDoc).extent
  t.same(networks.spatial.bbox, [[2, 48, 3, 49]], 'networks: n1 only')
  t.same(networks.temporal.interval, [['2025-02-02T00:00:00.000Z', '2025-02-02T00:00:00.000Z']])

  // The extent follows writes: it shrinks when the outermost feature goes, and follows a moved one.
  t.equal((await app.inject({ method: 'DELETE', url: '/features/collections/sites/items/a3', headers: { authorization: `Bearer ${await tokenFor(app, clients.acme)}` } })).statusCode, 204)
  const shrunk = await extentOf()
  t.same(shrunk.spatial.bbox, [[2.35, 48.85, 4.35, 50.85]], 'a3 deleted: bbox of a1, a2')
  t.same(shrunk.temporal.interval, [['2025-01-01T00:00:00.000Z', '2025-06-01T00:00:00.000Z']], 'a3 deleted: interval of a1, a2')
  t.equal((await app.inject({
    method: 'PUT', url: '/features/collections/sites/items/a2', headers: { authorization: `Bearer ${await tokenFor(app, clients.acme)}`, 'content-type': GEOJSON },
    payload: JSON.stringify(point(3, 49, { observed_at: '2024-12-31T00:00:00Z' }))
  })).statusCode, 200)
  const moved = await extentOf()
  t.same(moved.spatial.bbox, [[2.35, 48.85, 3, 49]], 'a2 moved: bbox follows')
  t.same(moved.temporal.interval, [['2024-12-31T00:00:00.000Z', '2025-01-01T00:00:00.000Z']], 'a2 re-dated: interval follows')
})

t.test('/conf/core/sfc-md-success: a collection where the caller has no feature still has a schema-valid extent', async t => {
  // extent.yaml (17-069r4): spatial.bbox is an array with minItems 1 of 4 or 6 numbers; temporal.interval minItems 1 of pairs.
  const { app, clients, bearer } = await setup(t)
  const globex = bearer(await tokenFor(app, clients.globex))
  const res = await app.inject({ url: '/features/collections/networks', headers: globex })
  t.equal(res.statusCode, 200)
  const doc = res.json() as { extent?: { spatial?: { bbox?: unknown[] }, temporal?: { interval?: unknown[] } } }
  const spatial = doc.extent?.spatial
  if (spatial !== undefined && spatial.bbox !== undefined) {
    t.ok(spatial.bbox.length >= 1, `spatial.bbox has at least one box when present (got ${JSON.stringify(spatial.bbox)}); omit spatial when there is no geometry`)
    for (const box of spatial.bbox) t.ok(Array.isArray(box) && (box.length === 4 || box.length === 6), 'each box has 4 or 6 numbers')
  } else {
    t.pass('spatial extent omitted')
  }
  const interval = doc.extent?.temporal?.interval
  if (interval !== undefined) {
    t.ok(interval.length >= 1, 'temporal.interval has at least one pair when present')
    for (const pair of interval) t.ok(Array.isArray(pair) && pair.length === 2, 'each interval is a pair')
  }
  const list = (await app.inject({ url: '/features/collections', headers: globex })).json() as { collections: Array<{ id: string, extent?: { spatial?: { bbox?: unknown[] } } }> }
  const entry = list.collections.find(c => c.id === 'networks')
  t.not(entry?.extent?.spatial?.bbox?.length, 0, 'the same in /collections: no empty bbox array')
})

t.test('/conf/core/sfc-md-op: GET /collections/{collectionId} answers 200; an unknown collection 404', async t => {
  const { get } = await setup(t)
  const res = await get('/features/collections/sites')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const missing = problem(t, await get('/features/collections/nope'), 404, 'unknown collection')
  t.match(missing.detail, 'nope')
  problem(t, await get('/features/collections/nope/items'), 404, 'items of an unknown collection')
  problem(t, await get('/features/collections/nope/items/a1'), 404, 'feature of an unknown collection')
})

t.test('/conf/core/sfc-md-success: the collection document has id, title, links, extent and queryables', async t => {
  const { get } = await setup(t)
  const body = (await get('/features/collections/sites')).json() as CollectionDoc
  t.equal(body.id, 'sites')
  t.equal(body.title, 'Sites')
  t.same(body.queryables, ['kind', 'name'])
  t.equal(rel(body.links, 'self')?.href, `${BASE}/collections/sites`)
  t.equal(rel(body.links, 'items')?.href, `${BASE}/collections/sites/items`)
  t.ok(body.extent.spatial.bbox.length === 1)
})

// ---------------------------------------------------------------- items

t.test('/conf/core/fc-op: GET /collections/{collectionId}/items answers 200 with the caller\'s features only', async t => {
  const { ids } = await setup(t)
  t.same(await ids(''), ACME_SITES)
})

t.test('/conf/core/fc-limit-definition: limit is an integer >= 1; larger than 1000 is clamped, not refused', async t => {
  const { items } = await setup(t)
  for (const bad of ['0', '-1', '1.5', 'abc', '', '1e2', '0x10', ' 1']) {
    badParam(t, await items(`limit=${encodeURIComponent(bad)}`), 'limit', `limit=${JSON.stringify(bad)}`)
  }
  const big = await items('limit=5000')
  t.equal(big.statusCode, 200, 'limit=5000 is accepted')
  t.equal((big.json() as FeatureCollection).numberReturned, 3)
  const clamped = (await items('limit=5000&offset=1')).json() as FeatureCollection
  const prev = new URL(rel(clamped.links, 'prev')?.href ?? 'http://x/')
  t.equal(prev.searchParams.get('limit'), '1000', 'the page size actually used is 1000')
  for (const ok of ['1', '10', '1000']) t.equal((await items(`limit=${ok}`)).statusCode, 200, `limit=${ok}`)
})

t.test('/conf/core/fc-limit-response: at most limit features, default 10', async t => {
  const { items, send } = await setup(t)
  for (let i = 0; i < 10; i++) t.equal((await send('POST', '/features/collections/sites/items', point(i, i))).statusCode, 201)
  for (const [query, count] of [['limit=1', 1], ['limit=2', 2], ['limit=13', 13], ['limit=100', 13], ['', 10], ['offset=12', 1], ['offset=13', 0], ['offset=50', 0]] as const) {
    const body = (await items(query)).json() as FeatureCollection
    t.equal(body.features.length, count, `?${query}: ${count} features`)
    t.equal(body.numberMatched, 13, `?${query}: numberMatched 13`)
  }
})

t.test('/conf/core/fc-bbox-definition: bbox is 4 or 6 numbers within CRS84 ranges', async t => {
  const { items } = await setup(t)
  for (const bad of ['1,2,3', '1,2,3,4,5', '1,2,3,4,5,6,7', 'a,b,c,d', '1,2,3,x', '1,,3,4', '0,-91,10,10', '0,0,10,91', '-181,0,0,1', '0,0,181,1', '0,10,10,5', '', 'NaN,0,1,1', 'Infinity,0,1,1']) {
    badParam(t, await items(`bbox=${encodeURIComponent(bad)}`), 'bbox', `bbox=${JSON.stringify(bad)}`)
  }
  t.equal((await items('bbox=0,40,10,55')).statusCode, 200, '4 numbers')
  t.equal((await items('bbox=0,40,-100,10,55,100')).statusCode, 200, '6 numbers (with heights)')
  t.equal((await items(`bbox=0,40,10,55&bbox-crs=${encodeURIComponent('http://www.opengis.net/def/crs/OGC/1.3/CRS84')}`)).statusCode, 200, 'bbox-crs CRS84')
  badParam(t, await items(`bbox=0,40,10,55&bbox-crs=${encodeURIComponent('http://www.opengis.net/def/crs/EPSG/0/4326')}`), 'bbox-crs', 'bbox-crs EPSG:4326')
})

t.test('/conf/core/fc-bbox-response: only features intersecting the bbox, of the caller\'s org only', async t => {
  const { ids } = await setup(t)
  t.same(await ids('bbox=2,48.5,3,49'), ['a1'])
  t.same(await ids('bbox=4,50,5,51'), ['a2'])
  t.same(await ids('bbox=0,40,10,55'), ACME_SITES)
  t.same(await ids('bbox=6.05,48.05,6.15,48.15'), [], 'globex g2 lies there: not returned')
  t.same(await ids('bbox=-80,35,-70,45'), [], 'globex g1 lies there: not returned')
  t.same(await ids('bbox=6,48,6,48'), ['a3'], 'a degenerate bbox on a point touches it')
  t.same(await ids('bbox=2.35,48.85,4.35,50.85'), ['a1', 'a2'], 'edges are inclusive')
  t.same(await ids('bbox=0,40,-100,10,55,100'), ACME_SITES, '6 numbers: heights ignored')
  t.same(await ids('bbox=170,40,5,55'), ['a1', 'a2'], 'west > east crosses the antimeridian')
  t.same(await ids('bbox=0,40,10,55&limit=1&offset=1'), ['a2'], 'paging over bbox results is stable')
})

t.test('/conf/core/fc-time-definition: datetime is an RFC 3339 instant or interval; anything else is refused', async t => {
  const { items } = await setup(t)
  for (const bad of ['yesterday', '2025-13-01', '2025-01-01T25:00:00Z', '2025-01-01T00:00:00', '2025/2025/2025', '../..', '/', '2026-01-01/2025-01-01', '..',
    '2025-02-30', '2025-02-30T00:00:00Z', '2025-04-31', '2025-01-01T24:00:00Z']) {
    badParam(t, await items(`datetime=${encodeURIComponent(bad)}`), 'datetime', `datetime=${JSON.stringify(bad)}`)
  }
  for (const good of ['2025-06-01T00:00:00Z', '2025-06-01T02:00:00+02:00', '2025-06-01T00:00:00.000Z', '2025-01-01T00:00:00Z/2025-06-01T00:00:00Z',
    '../2025-06-01T00:00:00Z', '2025-06-01T00:00:00Z/..', '/2025-06-01', '2025-06-01/', '2025-06-01', '2025-01-01/2025-06-01']) {
    t.equal((await items(`datetime=${encodeURIComponent(good)}`)).statusCode, 200, `datetime=${JSON.stringify(good)} is accepted`)
  }
})

t.test('/conf/core/fc-time-response: only features whose time lies in the instant or interval (inclusive)', async t => {
  const { ids } = await setup(t)
  const q = (v: string): string => `datetime=${encodeURIComponent(v)}`
  t.same(await ids(q('2025-06-01T00:00:00Z')), ['a2'], 'instant')
  t.same(await ids(q('2025-06-01T02:00:00+02:00')), ['a2'], 'the same instant with an offset')
  t.same(await ids(q('2025-06-01T00:00:01Z')), [], 'an instant matching nothing')
  t.same(await ids(q('2025-01-01T00:00:00Z/2025-06-01T00:00:00Z')), ['a1', 'a2'], 'closed interval, both ends inclusive')
  t.same(await ids(q('../2025-06-01T00:00:00Z')), ['a1', 'a2'], 'open start ../X')
  t.same(await ids(q('/2025-01-01T00:00:00Z')), ['a1'], 'open start /X')
  t.same(await ids(q('2025-06-01T00:00:00Z/..')), ['a2', 'a3'], 'open end X/..')
  t.same(await ids(q('2025-06-01T00:00:01Z/')), ['a3'], 'open end X/')
  t.same(await ids(q('2025-06-01')), ['a2'], 'a date covers its whole day')
  t.same(await ids(q('2025-01-01/2025-06-01')), ['a1', 'a2'], 'date-only interval includes the whole end day')
  t.same(await ids(q('2025-01-02/2025-12-31')), ['a2'])
  t.same(await ids(`${q('2025-01-01/..')}&bbox=4,50,7,51`), ['a2'], 'datetime and bbox combine')
  t.same(await ids(q('2025-03-01T00:00:00Z')), [], 'globex g1 is at that instant: not returned')
})

t.test('/conf/core/fc-response: application/geo+json FeatureCollection with a features array', async t => {
  const { items } = await setup(t)
  const res = await items()
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/geo\+json/)
  const body = res.json() as FeatureCollection
  t.equal(body.type, 'FeatureCollection')
  t.ok(Array.isArray(body.features))
  for (const f of body.features) {
    t.equal(f.type, 'Feature')
    t.equal(f.properties?.org, 'acme', `${f.id}: the caller's org`)
  }
  const empty = (await items('', 'networks')).json() as FeatureCollection
  t.equal(empty.features.length, 1)
})

t.test('/conf/core/fc-links: self always, next when more, prev after the first page; walking next visits each feature once', async t => {
  const { items, get, send } = await setup(t)
  const first = (await items('limit=1')).json() as FeatureCollection
  const self = rel(first.links, 'self')
  t.ok(self, 'self')
  t.equal(self?.type, GEOJSON)
  t.equal(new URL(self?.href ?? 'http://x/').pathname, '/features/collections/sites/items')
  t.ok(rel(first.links, 'next'), 'next when more features match')
  t.notOk(rel(first.links, 'prev'), 'no prev on the first page')

  const middle = (await items('limit=1&offset=1')).json() as FeatureCollection
  t.ok(rel(middle.links, 'next'), 'next in the middle')
  const prev = rel(middle.links, 'prev')
  t.ok(prev, 'prev when offset > 0')
  t.same(((await get(pathOf(t, prev?.href ?? ''))).json() as FeatureCollection).features.map(f => f.id), ['a1'], 'prev goes back one page')

  const last = (await items('limit=1&offset=2')).json() as FeatureCollection
  t.notOk(rel(last.links, 'next'), 'no next on the last page')
  t.ok(rel(last.links, 'prev'))
  const all = (await items('limit=10')).json() as FeatureCollection
  t.notOk(rel(all.links, 'next'), 'no next when everything fits')

  // Add a few so the walk is longer, then follow next links to the end.
  for (let i = 0; i < 4; i++) t.equal((await send('POST', '/features/collections/sites/items', point(10 + i, 10, { kind: 'probe' }))).statusCode, 201)
  const expected = ((await items('limit=100')).json() as FeatureCollection).features.map(f => f.id)
  t.equal(expected.length, 7)
  const seen: string[] = []
  let path: string | undefined = '/features/collections/sites/items?limit=1'
  for (let hops = 0; path !== undefined && hops < 20; hops++) {
    const res = await get(path)
    t.equal(res.statusCode, 200, `${path}: 200`)
    const page = res.json() as FeatureCollection
    t.ok(page.features.length <= 1, 'at most one per page')
    seen.push(...page.features.map(f => f.id))
    const next = rel(page.links, 'next')
    path = next === undefined ? undefined : pathOf(t, next.href)
  }
  t.same(seen, expected, 'every acme feature exactly once, in order')
  t.equal(new Set(seen).size, seen.length, 'no repeats')

  // The other query parameters survive in next links.
  const filtered = (await items('kind=probe&limit=2')).json() as FeatureCollection
  const next = rel(filtered.links, 'next')
  t.ok(next)
  const nextUrl = new URL(next?.href ?? 'http://x/')
  t.equal(nextUrl.searchParams.get('kind'), 'probe')
  t.equal(nextUrl.searchParams.get('offset'), '2')
  t.same(((await get(pathOf(t, next?.href ?? ''))).json() as FeatureCollection).features.length, 2)
})

t.test('/conf/core/fc-timeStamp: timeStamp is the RFC 3339 time of the response', async t => {
  const { items } = await setup(t)
  const before = Date.now()
  const body = (await items()).json() as FeatureCollection
  const after = Date.now()
  t.match(body.timeStamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
  const at = Date.parse(body.timeStamp)
  t.ok(at >= before - 1 && at <= after + 1, 'within the request')
})

t.test('/conf/core/fc-numberMatched: numberMatched counts every match across pages, for the caller\'s org only', async t => {
  const { items } = await setup(t)
  const cases: Array<[string, number]> = [['', 3], ['limit=1', 3], ['offset=2', 3], ['kind=office', 1], ['bbox=-80,35,-70,45', 0], ['datetime=2025-01-01%2F2025-06-01', 2]]
  for (const [query, n] of cases) {
    const body = (await items(query)).json() as FeatureCollection
    t.equal(body.numberMatched, n, `?${query}: numberMatched ${n}`)
  }
  // Walking every page of limit=2 returns numberMatched features in all.
  let total = 0
  for (let offset = 0; offset < 3; offset += 2) total += ((await items(`limit=2&offset=${offset}`)).json() as FeatureCollection).features.length
  t.equal(total, 3)
})

t.test('/conf/core/fc-numberReturned: numberReturned equals the length of features', async t => {
  const { items } = await setup(t)
  for (const query of ['', 'limit=1', 'limit=2', 'offset=2', 'offset=3', 'kind=depot', 'bbox=-80,35,-70,45']) {
    const body = (await items(query)).json() as FeatureCollection
    t.equal(body.numberReturned, body.features.length, `?${query}`)
  }
})

t.test('/conf/core/query-param-unknown: an unknown parameter is refused, naming it', async t => {
  const { items } = await setup(t)
  badParam(t, await items('colour=red'), 'colour', 'colour')
  badParam(t, await items('filter=kind%3D%27office%27'), 'filter', 'filter (CQL2 is not implemented)')
  badParam(t, await items('limit=1&sortby=name'), 'sortby', 'sortby next to a valid parameter')
  badParam(t, await items('name=x', 'networks'), 'name', 'a queryable of another collection')
})

t.test('/conf/core/query-param-invalid: an invalid value of a known parameter is refused, naming it', async t => {
  const { items } = await setup(t)
  badParam(t, await items('offset=-1'), 'offset', 'offset=-1')
  badParam(t, await items('offset=x'), 'offset', 'offset=x')
  badParam(t, await items('f=xml'), 'f', 'f=xml')
  t.equal((await items('f=json')).statusCode, 200, 'f=json')
  t.equal((await items('f=geojson')).statusCode, 200, 'f=geojson')
})

t.test('/conf/core/query-param-invalid: a parameter given twice is refused, naming it', async t => {
  const { items } = await setup(t)
  badParam(t, await items('limit=1&limit=2'), 'limit', 'limit twice')
  badParam(t, await items('bbox=0,40,10,55&bbox=0,40,10,55'), 'bbox', 'bbox twice')
  badParam(t, await items('kind=office&kind=depot'), 'kind', 'a queryable twice')
})

t.test('/conf/core/fc-response: equality filter on the queryable kind', async t => {
  const { ids } = await setup(t)
  t.same(await ids('kind=office'), ['a1'], 'globex g1 is also an office: not returned')
  t.same(await ids('kind=depot'), ['a2'])
  t.same(await ids('kind=yard'), [], 'only globex has a yard')
  t.same(await ids('name=a3'), ['a3'])
  t.same(await ids('kind=office&name=a2'), [], 'filters combine with AND')
  t.same(await ids('kind=plant&bbox=0,40,10,55&datetime=2026-01-01'), ['a3'])
})

// ---------------------------------------------------------------- one feature

t.test('/conf/core/f-op: GET /collections/{collectionId}/items/{featureId} answers 200; unknown ids 404', async t => {
  const { get } = await setup(t)
  const res = await get('/features/collections/sites/items/a1')
  t.equal(res.statusCode, 200)
  t.equal((res.json() as Feature).id, 'a1')
  const missing = problem(t, await get('/features/collections/sites/items/zz'), 404, 'unknown feature')
  t.match(missing.detail, 'zz')
  problem(t, await get('/features/collections/networks/items/a1'), 404, 'a feature of another collection')
})

t.test('/conf/core/f-success: GeoJSON with links self and collection, and a strong quoted ETag', async t => {
  const { get } = await setup(t)
  const res = await get('/features/collections/sites/items/a2')
  t.match(res.headers['content-type'], /^application\/geo\+json/)
  const etag = res.headers.etag
  t.type(etag, 'string')
  t.match(etag, /^"[^"]+"$/, 'strong and quoted (no W/)')
  const body = res.json() as Feature
  t.equal(body.type, 'Feature')
  t.same(body.geometry, { type: 'Point', coordinates: [4.35, 50.85] })
  t.match(body.properties, { name: 'a2', kind: 'depot', org: 'acme' })
  const links = body.links ?? []
  t.equal(rel(links, 'self')?.href, `${BASE}/collections/sites/items/a2`)
  t.equal(rel(links, 'self')?.type, GEOJSON)
  t.equal(rel(links, 'collection')?.href, `${BASE}/collections/sites`)
  t.equal(rel(links, 'collection')?.type, 'application/json')
  const again = await get(pathOf(t, rel(links, 'self')?.href ?? ''))
  t.equal(again.headers.etag, etag, 'the ETag is stable')
  const cached = await get('/features/collections/sites/items/a2', { 'if-none-match': String(etag) })
  t.equal(cached.statusCode, 304, 'If-None-Match with the current ETag: 304')
  t.equal(cached.body, '')
})

t.test('/conf/core/f-success: If-None-Match uses weak comparison and accepts a list or * (RFC 9110 §13.1.2)', async t => {
  const { get } = await setup(t)
  const etag = String((await get('/features/collections/sites/items/a2')).headers.etag)
  for (const header of [etag, `W/${etag}`, `"other", ${etag}`, `"other",${etag}`, '*']) {
    const res = await get('/features/collections/sites/items/a2', { 'if-none-match': header })
    t.equal(res.statusCode, 304, `If-None-Match: ${header} → 304`)
    if (res.statusCode === 304) t.equal(res.headers.etag, etag, `${header}: the 304 carries the ETag`)
  }
  t.equal((await get('/features/collections/sites/items/a2', { 'if-none-match': '"other"' })).statusCode, 200, 'a different ETag: 200')
})

// ---------------------------------------------------------------- GeoJSON, OpenAPI

t.test('/conf/geojson/content: every feature served is valid RFC 7946', async t => {
  const { items, get, send } = await setup(t)
  t.equal((await send('POST', '/features/collections/networks/items', {
    type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] }, properties: { kind: 'zone' }
  })).statusCode, 201)
  t.equal((await send('POST', '/features/collections/networks/items', { type: 'Feature', geometry: null, properties: null })).statusCode, 201)
  for (const collection of ['sites', 'networks']) {
    const body = (await items('limit=100', collection)).json() as FeatureCollection
    t.ok(body.features.length > 0)
    for (const f of body.features) {
      t.doesNotThrow(() => validateFeature(f), `${collection}/${f.id} in the collection is valid`)
      t.type(f.id, 'string', `${collection}/${f.id} has an id`)
      const one = await get(`/features/collections/${collection}/items/${encodeURIComponent(f.id)}`)
      t.match(one.headers['content-type'], /^application\/geo\+json/)
      t.doesNotThrow(() => validateFeature(one.json()), `${collection}/${f.id} alone is valid`)
    }
  }
})

t.test('/conf/oas30: GET /features/api is an OpenAPI 3.0 document covering every /features operation', async t => {
  const { get } = await setup(t)
  const res = await get('/features/api')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/vnd\.oai\.openapi\+json/)
  const doc = res.json() as { openapi: string, info: { title: string, version: string }, paths: Record<string, Record<string, unknown>> }
  t.match(doc.openapi, /^3\.0\.\d+$/)
  t.type(doc.info.title, 'string')
  const operations: Record<string, string[]> = {
    '/features/conformance': ['get'],
    '/features/collections': ['get'],
    '/features/collections/{collectionId}': ['get'],
    '/features/collections/{collectionId}/items': ['get', 'post'],
    '/features/collections/{collectionId}/items/{featureId}': ['get', 'put', 'patch', 'delete']
  }
  const landing = doc.paths['/features'] ?? doc.paths['/features/']
  t.ok(landing?.get, 'the landing page')
  for (const [path, methods] of Object.entries(operations)) {
    t.ok(doc.paths[path], `${path} is documented`)
    for (const m of methods) t.ok(doc.paths[path]?.[m], `${m.toUpperCase()} ${path}`)
  }
  // Besides the generic items path, one per collection (issue 14), so clients and the UI see its queryables.
  const perCollection = (path: string): boolean => /^\/features\/collections\/(sites|networks)\/items$/.test(path)
  for (const path of Object.keys(doc.paths)) {
    if (path.startsWith('/features')) t.ok(path === '/features' || path === '/features/' || path in operations || perCollection(path), `${path} is a known route`)
  }
  const sites = doc.paths['/features/collections/sites/items']?.get as { parameters?: Array<{ name: string, in: string }> } | undefined
  t.same(sites?.parameters?.filter(p => p.in === 'query').map(p => p.name).filter(n => ['kind', 'name'].includes(n)), ['kind', 'name'], 'the sites items path lists its queryables')
})

// ---------------------------------------------------------------- Part 4: create, replace, update, delete

const ITEMS = '/features/collections/sites/items'

t.test('/conf/create-replace-delete/insert: POST answers 201 with Location and ETag; GET at Location returns it', async t => {
  const { send, get, matched } = await setup(t)
  const res = await send('POST', ITEMS, point(7.44, 46.95, { name: 'bern', kind: 'office', observed_at: '2025-07-01T00:00:00Z' }))
  t.equal(res.statusCode, 201)
  t.match(res.headers['content-type'], /^application\/geo\+json/)
  const location = String(res.headers.location)
  t.match(location, new RegExp(`^${BASE}/collections/sites/items/[^/]+$`))
  t.match(res.headers.etag, /^"[^"]+"$/)
  const created = res.json() as Feature
  t.equal(`${BASE}/collections/sites/items/${created.id}`, location, 'Location names the created id')
  const fetched = await get(pathOf(t, location))
  t.equal(fetched.statusCode, 200)
  t.equal(fetched.headers.etag, res.headers.etag, 'same ETag')
  t.same(fetched.json(), created, 'same representation')
  t.match(created, { type: 'Feature', geometry: { type: 'Point', coordinates: [7.44, 46.95] }, properties: { name: 'bern', kind: 'office', org: 'acme' } })
  t.equal(await matched(), 4)
})

t.test('/conf/create-replace-delete/insert: the server stamps properties.org from the token, and picks the id', async t => {
  const { send, get, app, clients, bearer } = await setup(t)
  const res = await send('POST', ITEMS, { ...point(5, 45, { name: 'spoof', org: 'globex' }), id: 'g1' })
  t.equal(res.statusCode, 201)
  const created = res.json() as Feature
  t.equal(created.properties?.org, 'acme', 'org from the token, not the body')
  t.not(created.id, 'g1', 'the client does not choose the id')
  t.equal(((await get(`${ITEMS}/${created.id}`)).json() as Feature).properties?.org, 'acme')
  const globex = bearer(await tokenFor(app, clients.globex))
  t.equal((await app.inject({ url: `${ITEMS}/${created.id}`, headers: globex })).statusCode, 404, 'globex does not see it')
  t.same(((await app.inject({ url: `${ITEMS}/g1`, headers: globex })).json() as Feature).properties?.name, 'g1', 'globex g1 is untouched')
})

t.test('/conf/create-replace-delete/update: PUT replaces the feature (200) with a new ETag', async t => {
  const { send, get } = await setup(t)
  const before = await get(`${ITEMS}/a1`)
  const res = await send('PUT', `${ITEMS}/a1`, { type: 'Feature', geometry: { type: 'Point', coordinates: [2.4, 48.9] }, properties: { name: 'paris', org: 'globex' } })
  t.equal(res.statusCode, 200)
  t.not(res.headers.etag, before.headers.etag, 'new ETag')
  const after = await get(`${ITEMS}/a1`)
  t.equal(after.headers.etag, res.headers.etag)
  const body = after.json() as Feature
  t.equal(body.id, 'a1')
  t.same(body.geometry, { type: 'Point', coordinates: [2.4, 48.9] })
  t.same(body.properties, { name: 'paris', org: 'acme' }, 'replaced, not merged: kind and observed_at are gone; org re-stamped')
  problem(t, await send('PUT', `${ITEMS}/nope`, point(1, 1)), 404, 'PUT on an unknown id does not create')
})

t.test('/conf/update/patch: PATCH merge-patch+json merges (RFC 7396), null deletes a member', async t => {
  const { send, get } = await setup(t)
  const res = await send('PATCH', `${ITEMS}/a2`, { properties: { kind: 'warehouse', observed_at: null, extra: { deep: 1 } } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/geo\+json/)
  const body = (await get(`${ITEMS}/a2`)).json() as Feature
  t.same(body.properties, { name: 'a2', kind: 'warehouse', extra: { deep: 1 }, org: 'acme' })
  t.same(body.geometry, { type: 'Point', coordinates: [4.35, 50.85] }, 'geometry kept')
  t.equal((await get(`${ITEMS}/a2`)).headers.etag, res.headers.etag)

  t.equal((await send('PATCH', `${ITEMS}/a2`, { geometry: { type: 'Point', coordinates: [4, 50] }, properties: { extra: { deep: null }, org: 'globex' } })).statusCode, 200)
  const again = (await get(`${ITEMS}/a2`)).json() as Feature
  t.same(again.geometry, { type: 'Point', coordinates: [4, 50] })
  t.same(again.properties, { name: 'a2', kind: 'warehouse', extra: {}, org: 'acme' }, 'nested null deletes; org cannot be patched')

  problem(t, await send('PATCH', `${ITEMS}/a2`, { geometry: { type: 'Point', coordinates: [4, 95] } }), 400, 'a patch yielding invalid GeoJSON')
  t.same(((await get(`${ITEMS}/a2`)).json() as Feature).geometry, { type: 'Point', coordinates: [4, 50] }, 'unchanged after the refused patch')
  problem(t, await send('PATCH', `${ITEMS}/zz`, { properties: { kind: 'x' } }), 404, 'PATCH on an unknown id')
  problem(t, await send('PATCH', `${ITEMS}/a2`, { properties: { kind: 'x' } }, { 'content-type': GEOJSON }), 415, 'PATCH as application/geo+json')
})

t.test('/conf/create-replace-delete/delete: DELETE answers 204, then GET 404', async t => {
  const { send, get, matched } = await setup(t)
  const res = await send('DELETE', `${ITEMS}/a3`)
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  problem(t, await get(`${ITEMS}/a3`), 404, 'GET after DELETE')
  problem(t, await send('DELETE', `${ITEMS}/a3`), 404, 'DELETE again')
  t.equal(await matched(), 2)
})

t.test('/conf/create-replace-delete: If-Match with a stale ETag answers 412 to PUT, PATCH and DELETE, changing nothing', async t => {
  const { send, get } = await setup(t)
  const stale = String((await get(`${ITEMS}/a1`)).headers.etag)
  t.equal((await send('PATCH', `${ITEMS}/a1`, { properties: { kind: 'hq' } })).statusCode, 200, 'someone else changes a1')
  const current = await get(`${ITEMS}/a1`)
  const currentEtag = String(current.headers.etag)
  t.not(currentEtag, stale)
  const cases: Array<[Method, unknown]> = [['PUT', point(0, 0)], ['PATCH', { properties: { kind: 'x' } }], ['DELETE', undefined]]
  for (const [method, body] of cases) {
    for (const header of [stale, `W/${currentEtag}`, '"nope"', `"nope", ${stale}`]) {
      const res = await send(method, `${ITEMS}/a1`, body, { 'if-match': header })
      problem(t, res, 412, `${method} If-Match: ${header}`)
    }
  }
  const after = await get(`${ITEMS}/a1`)
  t.equal(after.headers.etag, currentEtag, 'nothing changed')
  t.equal(after.body, current.body)
})

t.test('/conf/create-replace-delete: If-Match with the current ETag (or *, or in a list) succeeds', async t => {
  const { send, get } = await setup(t)
  const etag = (): Promise<string> => get(`${ITEMS}/a1`).then(r => String(r.headers.etag))
  let res = await send('PUT', `${ITEMS}/a1`, point(1, 1, { kind: 'a' }), { 'if-match': await etag() })
  t.equal(res.statusCode, 200, 'PUT with the current ETag')
  res = await send('PATCH', `${ITEMS}/a1`, { properties: { kind: 'b' } }, { 'if-match': `"other", ${await etag()}` })
  t.equal(res.statusCode, 200, 'PATCH with the current ETag in a list')
  t.equal(((await get(`${ITEMS}/a1`)).json() as Feature).properties?.kind, 'b')
  res = await send('PATCH', `${ITEMS}/a1`, { properties: { kind: 'c' } }, { 'if-match': '*' })
  t.equal(res.statusCode, 200, 'PATCH with *')
  res = await send('DELETE', `${ITEMS}/a1`, undefined, { 'if-match': await etag() })
  t.equal(res.statusCode, 204, 'DELETE with the current ETag')
  t.equal((await get(`${ITEMS}/a1`)).statusCode, 404)
})

t.test('/conf/create-replace-delete: invalid GeoJSON answers 400 naming the problem, and nothing is stored', async t => {
  const { send, matched } = await setup(t)
  const cases: Array<[string, unknown, RegExp]> = [
    ['unclosed ring', { type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }, properties: {} }, /not closed/],
    ['latitude out of range', point(10, 91), /latitude 91/],
    ['longitude out of range', point(181, 10), /longitude 181/],
    ['unknown geometry type', { type: 'Feature', geometry: { type: 'Circle', coordinates: [0, 0] }, properties: {} }, /unknown geometry type "Circle"/],
    ['nested GeometryCollection', {
      type: 'Feature',
      geometry: { type: 'GeometryCollection', geometries: [{ type: 'GeometryCollection', geometries: [] }] },
      properties: {}
    }, /GeometryCollection must not contain another GeometryCollection/],
    ['not a Feature', { type: 'FeatureCollection', features: [] }, /Feature/],
    ['missing geometry', { type: 'Feature', properties: {} }, /geometry/],
    ['position of one number', { type: 'Feature', geometry: { type: 'Point', coordinates: [1] }, properties: {} }, /2 or 3 numbers/],
    ['properties not an object', { type: 'Feature', geometry: null, properties: [1] }, /properties/],
    ['a JSON array', [], /Feature|body|object/]
  ]
  for (const [name, body, detail] of cases) {
    const p = problem(t, await send('POST', ITEMS, body), 400, `POST ${name}`)
    t.match(p.detail, detail, `${name}: detail says what is wrong`)
  }
  t.equal(await matched(), 3, 'numberMatched unchanged: nothing stored')
  const put = problem(t, await send('PUT', `${ITEMS}/a1`, point(10, 91)), 400, 'PUT latitude out of range')
  t.match(put.detail, /latitude 91/)
  t.equal(((await send('GET', `${ITEMS}/a1`)).json() as Feature).properties?.name, 'a1', 'a1 not replaced')
})

t.test('/conf/create-replace-delete: wrong content type 415, body over 1 MiB 413, malformed JSON 400', async t => {
  const { send, matched } = await setup(t)
  const body = JSON.stringify(point(1, 1))
  problem(t, await send('POST', ITEMS, body, { 'content-type': 'text/plain' }), 415, 'POST text/plain')
  problem(t, await send('PUT', `${ITEMS}/a1`, body, { 'content-type': 'text/plain' }), 415, 'PUT text/plain')
  problem(t, await send('PATCH', `${ITEMS}/a1`, body, { 'content-type': 'text/plain' }), 415, 'PATCH text/plain')
  problem(t, await send('POST', ITEMS, body, { 'content-type': 'application/merge-patch+json' }), 415, 'POST merge-patch')
  t.equal((await send('POST', ITEMS, body, { 'content-type': 'application/json; charset=utf-8' })).statusCode, 201, 'application/json with a charset')

  const huge = JSON.stringify(point(1, 1, { pad: 'x'.repeat((1 << 20) + 10) }))
  problem(t, await send('POST', ITEMS, huge), 413, 'POST over 1 MiB')
  problem(t, await send('PUT', `${ITEMS}/a1`, huge), 413, 'PUT over 1 MiB')
  for (const bad of ['{"type":"Feature",', '{type:Feature}', 'null x', '']) {
    problem(t, await send('POST', ITEMS, bad, { 'content-type': GEOJSON }), 400, `malformed JSON ${JSON.stringify(bad)}`)
  }
  t.equal(await matched(), 4, 'only the one accepted POST was stored')
})

t.test('/conf/create-replace-delete: a read-only token answers 403 insufficient_scope; no token 401', async t => {
  const { app, clients, bearer, matched } = await setup(t)
  const reader = bearer(await tokenFor(app, clients.acmeReader))
  const payload = JSON.stringify(point(1, 1))
  const writes: Array<[Method, string]> = [['POST', ITEMS], ['PUT', `${ITEMS}/a1`], ['PATCH', `${ITEMS}/a1`], ['DELETE', `${ITEMS}/a1`]]
  for (const [method, url] of writes) {
    const res = await app.inject({
      method, url, headers: { ...reader, ...(method === 'DELETE' ? {} : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : GEOJSON }) },
      ...(method === 'DELETE' ? {} : { payload })
    })
    const p = problem(t, res, 403, `${method} with a read-only token`)
    t.match(res.headers['www-authenticate'], /^Bearer .*error="insufficient_scope".*scope="features:write"/, `${method}: insufficient_scope challenge`)
    t.equal(p.error, 'insufficient_scope')
  }
  t.equal((await app.inject({ url: `${ITEMS}/a1`, headers: reader })).statusCode, 200, 'the reader may read')
  for (const [method, url] of [...writes, ['GET', ITEMS] as [Method, string], ['GET', '/features'] as [Method, string]]) {
    const res = await app.inject({ method, url, ...(method === 'POST' ? { headers: { 'content-type': GEOJSON }, payload } : {}) })
    problem(t, res, 401, `${method} ${url} without a token`)
    t.match(res.headers['www-authenticate'], /^Bearer realm=/, `${method}: Bearer challenge`)
  }
  problem(t, await app.inject({ url: '/features/nowhere' }), 401, 'an unknown path without a token is 401, not 404')
  t.equal(await matched(), 3, 'nothing written')
})

t.test('/conf/create-replace-delete: globex cannot GET, PUT, PATCH or DELETE an acme feature: 404 as for a nonexistent id', async t => {
  const { app, clients, bearer, get } = await setup(t)
  const globex = bearer(await tokenFor(app, clients.globex))
  const acmeBefore = await get(`${ITEMS}/a1`)
  const etag = String(acmeBefore.headers.etag)
  const cases: Array<[Method, unknown, Record<string, string>]> = [
    ['GET', undefined, {}],
    ['PUT', point(0, 0), { 'content-type': GEOJSON }],
    ['PUT', point(0, 0), { 'content-type': GEOJSON, 'if-match': etag }],
    ['PATCH', { properties: { kind: 'x' } }, { 'content-type': 'application/merge-patch+json' }],
    ['PATCH', { properties: { kind: 'x' } }, { 'content-type': 'application/merge-patch+json', 'if-match': etag }],
    ['DELETE', undefined, {}],
    ['DELETE', undefined, { 'if-match': etag }]
  ]
  for (const [method, body, headers] of cases) {
    const request = (id: string) => app.inject({ method, url: `${ITEMS}/${id}`, headers: { ...globex, ...headers }, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) })
    const other = await request('a1')
    const none = await request('does-not-exist')
    const what = `${method}${headers['if-match'] === undefined ? '' : ' with If-Match'}`
    problem(t, other, 404, `${what} on acme's a1`)
    problem(t, none, 404, `${what} on a nonexistent id`)
    t.equal(other.body.replaceAll('a1', 'ID'), none.body.replaceAll('does-not-exist', 'ID'), `${what}: identical bodies but for the id`)
    t.equal(other.headers['content-type'], none.headers['content-type'])
    t.equal(other.headers.etag, undefined, `${what}: no ETag leaked`)
  }
  const acmeAfter = await get(`${ITEMS}/a1`)
  t.equal(acmeAfter.statusCode, 200)
  t.equal(acmeAfter.body, acmeBefore.body, 'acme\'s a1 untouched')
})

t.test('all error responses are problem+json with type, title, status and detail', async t => {
  const { get, send, app } = await setup(t)
  const responses: Array<[LightMyRequestResponse, number, string]> = [
    [await get('/features/nowhere'), 404, 'unknown path'],
    [await get('/features/collections/nope'), 404, 'unknown collection'],
    [await get(`${ITEMS}/zz`), 404, 'unknown feature'],
    [await get(`${ITEMS}?limit=0`), 400, 'bad limit'],
    [await get(`${ITEMS}?x=1`), 400, 'unknown parameter'],
    [await send('POST', ITEMS, point(0, 99)), 400, 'bad GeoJSON'],
    [await send('POST', ITEMS, '{', { 'content-type': GEOJSON }), 400, 'bad JSON'],
    [await send('POST', ITEMS, 'x', { 'content-type': 'text/plain' }), 415, 'bad media type'],
    [await send('DELETE', `${ITEMS}/a1`, undefined, { 'if-match': '"stale"' }), 412, 'stale If-Match'],
    [await app.inject({ url: ITEMS }), 401, 'no token'],
    [await app.inject({ url: ITEMS, headers: { authorization: 'Bearer not.a.token' } }), 401, 'bad token']
  ]
  for (const [res, status, what] of responses) problem(t, res, status, what)
})
