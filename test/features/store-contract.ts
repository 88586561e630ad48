// The FeatureStore contract (src/features/store.ts) as tests any backend must pass, unchanged: a test file imports
// featureStoreContract() and gives it a factory for its backend (test/features/store-contract-embedded.test.ts).
import type { Test } from 'tap'
import type { CollectionDef, FeatureStore, ItemsQuery, OrgFeatures, OrgId, Page, StoredFeature } from '../../src/features/store.js'
import type { Feature } from '../../src/features/geojson.js'

/** What a backend is opened with: the collections and the features each org starts with (SEED_FILE's content). */
export interface ContractSeed {
  collections: CollectionDef[]
  /** In this order: the order a list answers in. */
  features: Array<{ org: string, collection: string, feature: Feature & { id: string } }>
}

/**
 * Opens a fresh, isolated store holding exactly `seed` (nothing left from an earlier call). It is called once per
 * subtest, never concurrently. The suite closes the store; anything else (a database, a directory) the factory
 * tears down itself on `t`.
 */
export type StoreFactory = (t: Test, seed: ContractSeed) => Promise<FeatureStore>

/** Test code's stand-in for orgOf(claims): the orgs here are the seed's, not a request's. */
const org = (name: string): OrgId => name as OrgId

const SITES: CollectionDef = { id: 'sites', title: 'Sites', description: 'points, lines, polygons', temporalProperty: 'observed_at', queryables: ['kind', 'name', 'rank'] }
const PLAIN: CollectionDef = { id: 'plain', title: 'Plain', description: 'no temporal property', queryables: ['kind'] }

type Geometry = Feature['geometry']
const point = (x: number, y: number): Geometry => ({ type: 'Point', coordinates: [x, y] })
const feature = (id: string, geometry: Geometry, properties: Record<string, unknown>): Feature & { id: string } => ({ type: 'Feature', id, geometry, properties })

/** acme has seven sites (both sides of the antimeridian, one without geometry, one without time), globex two, initech none. */
export const SEED: ContractSeed = {
  collections: [SITES, PLAIN],
  features: [
    { org: 'acme', collection: 'sites', feature: feature('s1', point(2.35, 48.85), { name: 'Paris', kind: 'office', observed_at: '2025-01-01T00:00:00Z', rank: 1 }) },
    { org: 'acme', collection: 'sites', feature: feature('s2', point(179.5, 10), { name: 'East', kind: 'depot', observed_at: '2025-06-01T00:00:00Z', rank: 2 }) },
    { org: 'acme', collection: 'sites', feature: feature('s3', point(-179.5, 10), { name: 'West', kind: 'office', observed_at: '2026-01-01T00:00:00Z', rank: 3 }) },
    { org: 'acme', collection: 'sites', feature: feature('s4', null, { name: null, kind: 'depot', observed_at: '2025-03-01T00:00:00Z' }) },
    { org: 'acme', collection: 'sites', feature: feature('s5', { type: 'LineString', coordinates: [[170, -5], [175, 5]] }, { name: 'Cable', kind: 'cable' }) },
    { org: 'acme', collection: 'sites', feature: feature('s6', { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]] }, { name: 'Main Office: HQ', kind: 'office', observed_at: '2024-12-31T23:59:59Z', rank: 7 }) },
    { org: 'acme', collection: 'sites', feature: feature('s7', point(0, 0), { name: 'Zürich "Nord"', kind: 'office', observed_at: '2025-01-01T00:00:00.000Z', rank: '7' }) },
    { org: 'globex', collection: 'sites', feature: feature('g1', point(2.35, 48.85), { name: 'Paris', kind: 'office', observed_at: '2025-02-01T00:00:00Z' }) },
    { org: 'globex', collection: 'sites', feature: feature('g2', point(-74, 40.7), { name: 'New York', kind: 'office', observed_at: '2025-04-01T00:00:00Z' }) },
    { org: 'acme', collection: 'plain', feature: feature('p1', point(1, 1), { kind: 'office' }) }
  ]
}
const ACME_SITES = ['s1', 's2', 's3', 's4', 's5', 's6', 's7']

const ALL = { properties: {}, limit: 1000, offset: 0 }
const ms = (iso: string): number => Date.parse(iso)
const ids = (items: readonly StoredFeature[]): string[] => items.map(f => f.id)
const listIds = async (s: OrgFeatures, q: Partial<ItemsQuery> = {}, collection = 'sites'): Promise<string[]> => ids((await s.list(collection, { ...ALL, ...q })).items)
/** A page as the contract's two fields; its optional shortcuts (itemsJson, numberReturned) must agree with its items. */
function plain (t: Test, page: Page): { items: StoredFeature[], numberMatched: number } {
  if (page.numberReturned !== undefined) t.equal(page.numberReturned, page.items.length, 'numberReturned counts the items')
  if (page.itemsJson !== undefined) t.equal(page.itemsJson, page.items.map(f => f.json).join(','), 'itemsJson is the items\' JSON, joined')
  return { items: page.items, numberMatched: page.numberMatched }
}
/** The error a promise rejects with (or a failure marker when it resolves). */
const rejection = async (p: Promise<unknown>): Promise<unknown> => await p.then(() => ({ resolved: true }), (err: unknown) => err)
const NOT_FOUND = { code: 'APP_FEATURES_NOT_FOUND', status: 404 }
const PRECONDITION = { code: 'APP_FEATURES_PRECONDITION_FAILED', status: 412 }
const moved = (x: number, y: number, properties: Record<string, unknown> = {}): Feature => ({ type: 'Feature', geometry: point(x, y), properties })

/** Runs the contract against `open`'s backend, as subtests of `t`. */
export function featureStoreContract (t: Test, open: StoreFactory): void {
  const fresh = async (t: Test): Promise<FeatureStore> => {
    const store = await open(t, SEED)
    t.teardown(async () => { await store.close() })
    return store
  }

  t.test('collections: the seed\'s definitions, shared by every org', async t => {
    const store = await fresh(t)
    t.strictSame(store.collections().map(c => c.id), ['sites', 'plain'])
    t.same(store.collection('sites'), SITES)
    t.same(store.collection('plain'), PLAIN)
    t.equal(store.collection('nope'), undefined)
    t.equal(store.status(), 'ok', 'a fresh store is ok')
    t.equal(store.forOrg(org('acme')).org, 'acme', 'a handle knows its org')
  })

  t.test('get: the served feature, its org stamped, a strong ETag; another org\'s is not there', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    const s1 = await acme.get('sites', 's1')
    if (s1 === undefined) throw new Error('s1 is missing')
    t.equal(s1.id, 's1')
    t.same(s1.feature, { type: 'Feature', id: 's1', geometry: point(2.35, 48.85), properties: { name: 'Paris', kind: 'office', observed_at: '2025-01-01T00:00:00Z', rank: 1, org: 'acme' } })
    t.same(JSON.parse(s1.json), s1.feature, 'json and feature agree')
    t.equal(Object.keys(s1.feature.properties ?? {}).at(-1), 'org', 'the org is stamped last')
    t.match(s1.etag, /^"[^"]+"$/, 'a strong, quoted ETag')
    t.equal((await acme.get('sites', 's1'))?.etag, s1.etag, 'the same ETag on every read')
    t.not((await acme.get('sites', 's2'))?.etag, s1.etag, 'another feature, another ETag')
    t.same((await acme.get('sites', 's4'))?.feature.geometry, null, 'a feature without geometry')
    t.equal(await acme.get('sites', 'nope'), undefined, 'an unknown id')
    t.equal(await acme.get('plain', 's1'), undefined, 'ids are per collection')
    t.equal(await store.forOrg(org('globex')).get('sites', 's1'), undefined, 'another org\'s id')
    t.equal((await store.forOrg(org('globex')).get('sites', 'g1'))?.feature.properties?.org, 'globex')
  })

  t.test('list: every feature of the org in insertion order; numberMatched; paging is stable and complete', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    const all = await acme.list('sites', ALL)
    t.strictSame(ids(plain(t, all).items), ACME_SITES)
    t.equal(all.numberMatched, 7)
    const byId = new Map(all.items.map(f => [f.id, f]))
    const s1 = await acme.get('sites', 's1')
    t.equal(byId.get('s1')?.json, s1?.json, 'a list serves the same JSON as a get')
    t.equal(byId.get('s1')?.etag, s1?.etag, 'and the same ETag')
    t.strictSame(await listIds(store.forOrg(org('globex'))), ['g1', 'g2'])
    const initech = await store.forOrg(org('initech')).list('sites', ALL)
    t.strictSame(plain(t, initech), { items: [], numberMatched: 0 }, 'an org without features')
    t.strictSame(await listIds(acme, {}, 'plain'), ['p1'])

    const pages: string[] = []
    for (let offset = 0; offset < 9; offset += 2) {
      const page = await acme.list('sites', { properties: {}, limit: 2, offset })
      t.equal(page.numberMatched, 7, `numberMatched on the page at ${offset}`)
      t.ok(page.items.length <= 2)
      pages.push(...ids(page.items))
    }
    t.strictSame(pages, ACME_SITES, 'pages of 2 cover every feature once, in order')
    t.strictSame(plain(t, await acme.list('sites', { properties: {}, limit: 0, offset: 0 })), { items: [], numberMatched: 7 }, 'limit 0 only counts')
    t.strictSame(plain(t, await acme.list('sites', { properties: {}, limit: 5, offset: 50 })), { items: [], numberMatched: 7 }, 'past the end')
    t.strictSame(await listIds(acme, { limit: 3, offset: 2 }), ['s3', 's4', 's5'])

    await acme.replace('sites', 's2', moved(100, 0, { kind: 'depot' }))
    t.strictSame(await listIds(acme), ACME_SITES, 'a replace keeps the feature\'s place')
    const created = await acme.create('sites', moved(1, 2))
    await acme.delete('sites', 's3')
    t.strictSame(await listIds(acme), ['s1', 's2', 's4', 's5', 's6', 's7', created.id], 'a delete leaves the others in order; a create comes last')
  })

  t.test('bbox: intersection, inclusive edges, the antimeridian, features without geometry never match', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    t.strictSame(await listIds(acme, { bbox: [0, 40, 10, 55] }), ['s1'])
    t.strictSame(await listIds(store.forOrg(org('globex')), { bbox: [0, 40, 10, 55] }), ['g1'], 'the same place, the other org\'s feature')
    t.strictSame(await listIds(acme, { bbox: [-1, -1, 11, 11] }), ['s6', 's7'], 'a polygon and a point inside the box')
    t.strictSame(await listIds(acme, { bbox: [5, 5, 6, 6] }), ['s6'], 'a box inside a polygon\'s box')
    t.strictSame(await listIds(acme, { bbox: [2.35, 48.85, 2.35, 48.85] }), ['s1'], 'a box that is the point: edges count')
    t.strictSame(await listIds(acme, { bbox: [10, 10, 20, 20] }), ['s6'], 'touching the polygon\'s corner')
    t.strictSame(await listIds(acme, { bbox: [170, -20, -170, 20] }), ['s2', 's3', 's5'], 'west > east crosses the antimeridian, each feature once, in order')
    t.strictSame(await listIds(acme, { bbox: [179, 0, -179.9, 20] }), ['s2'], 'only the east side')
    t.strictSame(await listIds(acme, { bbox: [-180, -90, 180, 90] }), ['s1', 's2', 's3', 's5', 's6', 's7'], 'the world: all but the feature without geometry')
    t.strictSame(await listIds(acme, { bbox: [-60, -60, -50, -50] }), [], 'an empty box')
    const page = await acme.list('sites', { bbox: [-180, -90, 180, 90], properties: {}, limit: 2, offset: 2 })
    t.strictSame(ids(plain(t, page).items), ['s3', 's5'])
    t.equal(page.numberMatched, 6, 'numberMatched counts the bbox matches, not the page')
    await acme.replace('sites', 's1', moved(-100, -40))
    t.strictSame(await listIds(acme, { bbox: [0, 40, 10, 55] }), [], 'a moved feature leaves its old box')
    t.strictSame(await listIds(acme, { bbox: [-101, -41, -99, -39] }), ['s1'], 'and is found in its new one')
  })

  t.test('bbox: edges compared as doubles, not as the float boxes of a spatial index', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    // 10.0000001 is 10 as a float: a float box comparison would call it on the edge.
    const beyond = await acme.create('sites', moved(10.0000001, 25))
    const near = await acme.create('sites', moved(9.99995, 25))
    const inside = await acme.create('sites', moved(9.5, 25))
    t.strictSame(await listIds(acme, { bbox: [9, 24, 10, 26] }), [near.id, inside.id], 'a point 1e-7 beyond the east edge is outside')
    t.strictSame(await listIds(acme, { bbox: [9, 24, 10.0000001, 26] }), [beyond.id, near.id, inside.id], 'and on the edge of a box that reaches it')
    t.strictSame(await listIds(acme, { bbox: [9.99995, 25, 9.99995, 25] }), [near.id], 'a box that is a point')
    t.strictSame(await listIds(acme, { bbox: [9, 25.0000001, 11, 26] }), [], 'a point 1e-7 below the south edge is outside')
  })

  t.test('datetime: inclusive intervals, open ends, instants; features without time never match', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    t.strictSame(await listIds(acme, { datetime: [ms('2025-01-01T00:00:00Z'), ms('2025-06-01T00:00:00Z')] }), ['s1', 's2', 's4', 's7'], 'both ends included')
    t.strictSame(await listIds(acme, { datetime: [null, ms('2025-01-01T00:00:00Z')] }), ['s1', 's6', 's7'], 'open start')
    t.strictSame(await listIds(acme, { datetime: [ms('2025-06-01T00:00:00Z'), null] }), ['s2', 's3'], 'open end')
    t.strictSame(await listIds(acme, { datetime: [ms('2025-01-01T00:00:00Z'), ms('2025-01-01T00:00:00Z')] }), ['s1', 's7'], 'an instant matches equal instants however written')
    t.strictSame(await listIds(acme, { datetime: [ms('2030-01-01T00:00:00Z'), null] }), [])
    t.strictSame(await listIds(acme, { datetime: [null, ms('2100-01-01T00:00:00Z')] }), ['s1', 's2', 's3', 's4', 's6', 's7'], 'everything with a time, not s5')
    const both = await acme.list('sites', { bbox: [-180, -90, 180, 90], datetime: [ms('2025-01-01T00:00:00Z'), null], properties: {}, limit: 1, offset: 1 })
    t.strictSame(ids(both.items), ['s2'])
    t.equal(both.numberMatched, 4, 'bbox and datetime together: s1, s2, s3, s7')
    t.strictSame(await listIds(acme, { datetime: [null, null] }, 'plain'), [], 'a collection without a temporal property has no times')
  })

  t.test('queryables: equality on the string form of a property, combined with bbox, datetime and paging', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    t.strictSame(await listIds(acme, { properties: { kind: 'office' } }), ['s1', 's3', 's6', 's7'])
    t.strictSame(await listIds(acme, { properties: { kind: 'office', name: 'Paris' } }), ['s1'], 'every filter must match')
    t.strictSame(await listIds(acme, { properties: { rank: '7' } }), ['s6', 's7'], 'the number 7 and the string "7" both match "7"')
    t.strictSame(await listIds(acme, { properties: { name: 'Zürich "Nord"' } }), ['s7'], 'non-ASCII and quotes')
    t.strictSame(await listIds(acme, { properties: { name: 'Main Office: HQ' } }), ['s6'])
    t.strictSame(await listIds(acme, { properties: { name: 'null' } }), [], 'a null property matches nothing')
    t.strictSame(await listIds(acme, { properties: { rank: '' } }), [], 'a missing property matches nothing')
    t.strictSame(await listIds(acme, { properties: { kind: 'Office' } }), [], 'case matters')
    t.strictSame(await listIds(acme, { properties: { kind: 'off' } }), [], 'no substring matches')
    t.strictSame(await listIds(store.forOrg(org('globex')), { properties: { name: 'Paris' } }), ['g1'])
    const page = await acme.list('sites', { bbox: [-180, -90, 180, 90], datetime: [null, ms('2025-12-31T00:00:00Z')], properties: { kind: 'office' }, limit: 1, offset: 1 })
    t.strictSame(ids(page.items), ['s6'])
    t.equal(page.numberMatched, 3, 's1, s6, s7 match all three filters')
    await acme.replace('sites', 's1', moved(2.35, 48.85, { kind: 'depot' }))
    t.strictSame(await listIds(acme, { properties: { kind: 'office' } }), ['s3', 's6', 's7'], 'a replaced feature is filtered on its new properties')
  })

  t.test('extent: per org and collection; it follows writes', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    t.strictSame(await acme.extent('sites'), { bbox: [-179.5, -5, 179.5, 48.85], interval: ['2024-12-31T23:59:59.000Z', '2026-01-01T00:00:00.000Z'] })
    t.strictSame(await store.forOrg(org('globex')).extent('sites'), { bbox: [-74, 40.7, 2.35, 48.85], interval: ['2025-02-01T00:00:00.000Z', '2025-04-01T00:00:00.000Z'] }, 'nothing of acme\'s shapes globex\'s extent')
    t.strictSame(await store.forOrg(org('initech')).extent('sites'), { bbox: null, interval: [null, null] }, 'an org without features')
    t.strictSame(await acme.extent('plain'), { bbox: [1, 1, 1, 1], interval: [null, null] }, 'no temporal property: no interval')
    await acme.delete('sites', 's3')
    await acme.replace('sites', 's6', moved(20, 60, { observed_at: '2027-01-01T00:00:00Z' }))
    t.strictSame(await acme.extent('sites'), { bbox: [0, -5, 179.5, 60], interval: ['2025-01-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'] })
    for (const id of ACME_SITES) if (id !== 's3') await acme.delete('sites', id)
    t.strictSame(await acme.extent('sites'), { bbox: null, interval: [null, null] }, 'every feature deleted')
  })

  t.test('create: a new id, the writer\'s org stamped whatever the body says, visible to that org only', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    const created = await acme.create('sites', { type: 'Feature', id: 'chosen', geometry: point(3, 4), properties: { org: 'globex', kind: 'yard', observed_at: '2025-05-05T00:00:00Z' } } as Feature)
    t.match(created.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a UUID, not the body\'s id')
    t.same(created.feature, { type: 'Feature', id: created.id, geometry: point(3, 4), properties: { kind: 'yard', observed_at: '2025-05-05T00:00:00Z', org: 'acme' } })
    const got = await acme.get('sites', created.id)
    t.equal(got?.json, created.json, 'a get serves what the create answered')
    t.equal(got?.etag, created.etag)
    t.equal(await acme.get('sites', 'chosen'), undefined)
    t.equal(await store.forOrg(org('globex')).get('sites', created.id), undefined, 'globex does not see it')
    t.strictSame(await listIds(store.forOrg(org('globex'))), ['g1', 'g2'])
    t.strictSame(await listIds(acme, { properties: { kind: 'yard' } }), [created.id], 'the new feature is queryable')
    const again = await acme.create('sites', moved(3, 4))
    t.not(again.id, created.id, 'each create gets its own id')
  })

  t.test('replace: If-Match (strong comparison, lists, *), 412 and 404 with codes, nothing written on a refusal', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    const original = await acme.get('sites', 's1') as StoredFeature
    const updated = await acme.replace('sites', 's1', moved(2, 48, { name: 'v2' }), { ifMatch: original.etag })
    t.equal(updated.id, 's1')
    t.same(updated.feature.properties, { name: 'v2', org: 'acme' }, 'a replace drops what the new body does not have')
    t.not(updated.etag, original.etag, 'a new representation, a new ETag')
    t.equal((await acme.get('sites', 's1'))?.etag, updated.etag)
    for (const [name, ifMatch] of [['a stale tag', original.etag], ['a list of stale tags', `"nope", ${original.etag}`], ['a weak form of the current tag', `W/${updated.etag}`]]) {
      t.match(await rejection(acme.replace('sites', 's1', moved(0, 0), { ifMatch })), PRECONDITION, `${name}: 412`)
    }
    t.equal((await acme.get('sites', 's1'))?.json, updated.json, 'a refused replace wrote nothing')
    const listed = await acme.replace('sites', 's1', moved(2, 48, { name: 'v3' }), { ifMatch: `"x", ${updated.etag}` })
    t.equal(listed.feature.properties?.name, 'v3', 'a list holding the current tag matches')
    const star = await acme.replace('sites', 's1', moved(2, 48, { name: 'v4' }), { ifMatch: '*' })
    t.equal(star.feature.properties?.name, 'v4', '* matches a current feature')
    const same = await acme.replace('sites', 's1', moved(2, 48, { name: 'v4' }))
    t.equal(same.etag, star.etag, 'an unconditional replace; the same representation has the same ETag')
    t.match(await rejection(acme.replace('sites', 'nope', moved(0, 0), { ifMatch: '*' })), NOT_FOUND, 'a missing feature is 404, even with If-Match: *')
    t.match(await rejection(acme.replace('sites', 'nope', moved(0, 0))), NOT_FOUND, 'a replace never creates')
    t.equal(await acme.get('sites', 'nope'), undefined)
  })

  t.test('delete: conditional like replace; a deleted feature is gone', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    const s2 = await acme.get('sites', 's2') as StoredFeature
    t.match(await rejection(acme.delete('sites', 's2', { ifMatch: '"stale"' })), PRECONDITION)
    t.ok(await acme.get('sites', 's2'), 'a refused delete deletes nothing')
    t.equal(await acme.delete('sites', 's2', { ifMatch: s2.etag }), undefined)
    t.equal(await acme.get('sites', 's2'), undefined)
    t.match(await rejection(acme.delete('sites', 's2')), NOT_FOUND, 'deleting twice')
    await acme.delete('sites', 's4')
    t.strictSame(await listIds(acme), ['s1', 's3', 's5', 's6', 's7'])
    t.equal((await acme.list('sites', ALL)).numberMatched, 5)
  })

  t.test('merge-patch (RFC 7396): members merge, null removes, the id and org stay; invalid results are refused', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    const before = await acme.get('sites', 's1') as StoredFeature
    const patched = await acme.patch('sites', 's1', { properties: { kind: 'yard', name: null, extra: { a: 1, list: [1, 2] } } })
    t.same(patched.feature, { type: 'Feature', id: 's1', geometry: point(2.35, 48.85), properties: { kind: 'yard', observed_at: '2025-01-01T00:00:00Z', rank: 1, extra: { a: 1, list: [1, 2] }, org: 'acme' } })
    t.equal(Object.keys(patched.feature.properties ?? {}).at(-1), 'org', 'the org is stamped last again')
    t.not(patched.etag, before.etag)
    t.equal((await acme.get('sites', 's1'))?.json, patched.json, 'a get serves the patched feature')
    const nested = await acme.patch('sites', 's1', { properties: { extra: { b: 2, list: [3] } } })
    t.same(nested.feature.properties?.extra, { a: 1, b: 2, list: [3] }, 'objects merge member by member; arrays are replaced')
    const geometry = await acme.patch('sites', 's1', { geometry: point(5, 5) })
    t.same(geometry.feature.geometry, point(5, 5), 'a new geometry replaces the old one')
    t.strictSame(await listIds(acme, { bbox: [4, 4, 6, 6] }), ['s1', 's6'], 'and the index follows it')
    const spoof = await acme.patch('sites', 's1', { id: 'other', properties: { org: 'globex' } })
    t.equal(spoof.id, 's1', 'the id does not change')
    t.equal(spoof.feature.properties?.org, 'acme', 'the org does not change')
    t.equal(await store.forOrg(org('globex')).get('sites', 's1'), undefined)
    t.equal(await acme.get('sites', 'other'), undefined)

    const current = await acme.get('sites', 's1') as StoredFeature
    // RFC 7396 null removes the member, and a Feature without its geometry member is not valid GeoJSON.
    t.match(await rejection(acme.patch('sites', 's1', { geometry: null })), { name: 'GeoJsonInvalid', path: '/geometry' }, 'a null geometry removes the member: refused')
    t.strictSame(await listIds(acme, { bbox: [4, 4, 6, 6] }), ['s1', 's6'], 'the refused patch did not move it')
    const invalid = await rejection(acme.patch('sites', 's1', { geometry: { type: 'Point', coordinates: 'x' } }))
    t.match(invalid, { name: 'GeoJsonInvalid' }, 'a result that is not a valid feature is refused')
    t.equal((await acme.get('sites', 's1'))?.json, current.json, 'and nothing is written')
    t.match(await rejection(acme.patch('sites', 's1', { properties: { v: 1 } }, { ifMatch: before.etag })), PRECONDITION, 'a stale If-Match: 412')
    t.equal((await acme.get('sites', 's1'))?.json, current.json)
    const conditional = await acme.patch('sites', 's1', { properties: { v: 1 } }, { ifMatch: current.etag })
    t.equal(conditional.feature.properties?.v, 1, 'a current If-Match: applied')
    t.match(await rejection(acme.patch('sites', 'nope', { properties: {} })), NOT_FOUND)
  })

  t.test('concurrency: of two writes with the same If-Match exactly one wins; unconditional patches lose nothing', async t => {
    const store = await fresh(t)
    const acme = store.forOrg(org('acme'))
    for (const [name, write] of [
      ['replace', async (etag: string, i: number, round: number) => await acme.replace('sites', 's1', moved(i, i, { writer: i, round }), { ifMatch: etag })],
      ['patch', async (etag: string, i: number, round: number) => await acme.patch('sites', 's1', { properties: { writer: i, round } }, { ifMatch: etag })]
    ] as const) {
      // Each round writes a representation not seen before: an equal one would keep the ETag, and both could match.
      for (let round = 0; round < 5; round++) {
        const current = await acme.get('sites', 's1') as StoredFeature
        const results = await Promise.allSettled([write(current.etag, 1, round), write(current.etag, 2, round)])
        const won = results.flatMap((r, i) => r.status === 'fulfilled' ? [{ i: i + 1, stored: r.value }] : [])
        t.equal(won.length, 1, `${name} round ${round}: exactly one write succeeds`)
        const lost = results.find(r => r.status === 'rejected')
        t.match(lost?.reason, PRECONDITION, `${name} round ${round}: the other gets 412`)
        const now = await acme.get('sites', 's1')
        t.equal(now?.etag, won[0]?.stored.etag, `${name} round ${round}: the winner's write is the one stored`)
        t.equal(now?.feature.properties?.writer, won[0]?.i)
      }
    }
    const s2 = await acme.get('sites', 's2') as StoredFeature
    const deletes = await Promise.allSettled([acme.delete('sites', 's2', { ifMatch: s2.etag }), acme.delete('sites', 's2', { ifMatch: s2.etag })])
    t.equal(deletes.filter(r => r.status === 'fulfilled').length, 1, 'exactly one of two deletes succeeds')
    t.ok(deletes.every(r => r.status === 'fulfilled' || [404, 412].includes((r.reason as { status?: number }).status ?? 0)), 'the other is 404 or 412')

    const patches = await Promise.allSettled(Array.from({ length: 10 }, async (_, i) => await acme.patch('sites', 's3', { properties: { [`p${i}`]: i } })))
    t.ok(patches.every(r => r.status === 'fulfilled'), 'ten concurrent patches without If-Match all succeed')
    const merged = (await acme.get('sites', 's3'))?.feature.properties ?? {}
    t.same(Array.from({ length: 10 }, (_, i) => merged[`p${i}`]), Array.from({ length: 10 }, (_, i) => i), 'and none is lost')
    t.equal(merged.name, 'West', 'the untouched properties stay')
  })

  t.test('org isolation: another org\'s feature cannot be read, changed, deleted or counted', async t => {
    const store = await fresh(t)
    const [acme, globex] = [store.forOrg(org('acme')), store.forOrg(org('globex'))]
    const s1 = await acme.get('sites', 's1') as StoredFeature
    t.match(await rejection(globex.replace('sites', 's1', moved(0, 0), { ifMatch: s1.etag })), NOT_FOUND, 'replace: 404 even with the right ETag')
    t.match(await rejection(globex.patch('sites', 's1', { properties: { x: 1 } }, { ifMatch: '*' })), NOT_FOUND, 'patch: 404')
    t.match(await rejection(globex.delete('sites', 's1', { ifMatch: s1.etag })), NOT_FOUND, 'delete: 404')
    t.equal((await acme.get('sites', 's1'))?.json, s1.json, 'acme\'s feature is untouched')
    t.strictSame(await listIds(globex, { properties: { kind: 'office' } }), ['g1', 'g2'])
    t.equal((await globex.list('sites', { properties: {}, bbox: [-180, -90, 180, 90], limit: 0, offset: 0 })).numberMatched, 2)
    await globex.create('sites', moved(7, 7, { kind: 'yard' }))
    t.strictSame(await listIds(acme, { properties: { kind: 'yard' } }), [], 'a globex create is not in acme\'s list')
    t.strictSame(await acme.extent('sites'), { bbox: [-179.5, -5, 179.5, 48.85], interval: ['2024-12-31T23:59:59.000Z', '2026-01-01T00:00:00.000Z'] }, 'nor in acme\'s extent')
    t.same(plain(t, await store.forOrg(org('initech')).list('plain', ALL)), { items: [], numberMatched: 0 })
  })
}
