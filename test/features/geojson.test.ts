import t from 'tap'
import fc from 'fast-check'
import { readFile } from 'node:fs/promises'
import { validateFeature, geometryBbox, GeoJsonInvalid, type Geometry, type Position } from '../../src/features/geojson.js'
import { seedText, SEED_PATH, COUNTS, OVERLAP } from '../../scripts/make-seed.js'

const feature = (geometry: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ type: 'Feature', geometry, properties: { name: 'x' }, ...extra })
const square: Position[] = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
const hole: Position[] = [[0.2, 0.2], [0.2, 0.8], [0.8, 0.8], [0.2, 0.2]]

t.test('every RFC 7946 geometry type is accepted, with 2D and 3D positions', async t => {
  const geometries: Geometry[] = [
    { type: 'Point', coordinates: [7.44, 46.95] },
    { type: 'Point', coordinates: [7.44, 46.95, 540.5] },
    { type: 'MultiPoint', coordinates: [[-180, -90], [180, 90, 0]] },
    { type: 'LineString', coordinates: [[0, 0], [1, 1, 10], [2, 0]] },
    { type: 'MultiLineString', coordinates: [[[0, 0], [1, 1]], [[2, 2], [3, 3]]] },
    { type: 'Polygon', coordinates: [square, hole] },
    { type: 'MultiPolygon', coordinates: [[square], [[[5, 5, 1], [6, 5, 1], [6, 6, 1], [5, 5, 1]]]] },
    { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [1, 2] }, { type: 'Polygon', coordinates: [square] }] },
    { type: 'GeometryCollection', geometries: [] },
    { type: 'MultiPolygon', coordinates: [] },
    { type: 'LineString', coordinates: [], bbox: [0, 0, 1, 1] }
  ]
  for (const geometry of geometries) {
    const f = feature(geometry)
    t.equal(validateFeature(f), f, `${geometry.type} ${JSON.stringify(geometry).slice(0, 60)} is returned as is`)
  }
})

t.test('a null geometry, ids, a bbox and foreign members are accepted; a missing properties reads as null', async t => {
  t.same(validateFeature(feature(null, { properties: null })).geometry, null)
  t.equal(validateFeature(feature(null, { id: 'sites-acme-0001' })).id, 'sites-acme-0001')
  t.equal(validateFeature(feature(null, { id: 42 })).id, 42)
  t.ok(validateFeature(feature({ type: 'Point', coordinates: [1, 2, 3] }, { bbox: [1, 2, 3, 1, 2, 3], org: 'acme', title: 'x' })))
  const input = { type: 'Feature', geometry: null }
  const out = validateFeature(input)
  t.equal(out.properties, null)
  t.notOk('properties' in input, 'the caller’s object is not modified')
})

t.test('each problem is reported with the JSON pointer of the offending value and a precise message', async t => {
  const cases: Array<[unknown, string, RegExp]> = [
    [null, '', /^: must be a Feature object, got null$/],
    [[feature(null)], '', /got an array/],
    [feature(null, { type: 'feature' }), '/type', /^\/type: must be "Feature"$/],
    [feature(null, { id: { a: 1 } }), '/id', /must be a string or a finite number, got an object/],
    [feature(null, { id: Infinity }), '/id', /got Infinity/],
    [{ type: 'Feature', properties: {} }, '/geometry', /^\/geometry: is required/],
    [feature([1, 2]), '/geometry', /must be a geometry object or null, got an array/],
    [feature(null, { properties: [] }), '/properties', /^\/properties: must be an object or null$/],
    [feature(null, { properties: 'x' }), '/properties', /must be an object or null/],
    [feature(null, { bbox: [0, 0, 1] }), '/bbox', /must be an array of 4 or 6 numbers/],
    [feature(null, { bbox: [0, 0, 1, '1'] }), '/bbox/3', /must be a finite number, got "1"/],
    [feature({ type: 'Circle', coordinates: [0, 0] }), '/geometry/type', /^\/geometry\/type: unknown geometry type "Circle"$/],
    [feature({ coordinates: [0, 0] }), '/geometry/type', /unknown geometry type undefined/],
    [feature({ type: 'Point' }), '/geometry/coordinates', /is required for a Point/],
    [feature({ type: 'GeometryCollection' }), '/geometry/geometries', /is required for a GeometryCollection/],
    [feature({ type: 'Point', coordinates: [1] }), '/geometry/coordinates', /a position needs 2 or 3 numbers, has 1 element$/],
    [feature({ type: 'Point', coordinates: [1, 2, 3, 4] }), '/geometry/coordinates', /a position needs 2 or 3 numbers, has 4 elements/],
    [feature({ type: 'Point', coordinates: [1, '2'] }), '/geometry/coordinates/1', /must be a finite number, got "2"/],
    [feature({ type: 'Point', coordinates: [1, NaN] }), '/geometry/coordinates/1', /must be a finite number, got NaN/],
    [feature({ type: 'Point', coordinates: [-180.5, 0] }), '/geometry/coordinates/0', /^\/geometry\/coordinates\/0: longitude -180.5 is outside \[-180, 180\]$/],
    [feature({ type: 'LineString', coordinates: [[0, 0], [1, 1], [2, 91]] }), '/geometry/coordinates/2/1',
      /^\/geometry\/coordinates\/2\/1: latitude 91 is outside \[-90, 90\]$/],
    [feature({ type: 'LineString', coordinates: [[0, 0]] }), '/geometry/coordinates',
      /^\/geometry\/coordinates: a LineString needs at least 2 positions$/],
    [feature({ type: 'MultiLineString', coordinates: [[[0, 0], [1, 1]], [[0, 0]]] }), '/geometry/coordinates/1', /a LineString needs at least 2 positions/],
    [feature({ type: 'MultiPoint', coordinates: [0, 0] }), '/geometry/coordinates/0', /expected a position \(an array of 2 or 3 numbers\), got 0/],
    [feature({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [0, 0]]] }), '/geometry/coordinates/0',
      /^\/geometry\/coordinates\/0: a linear ring needs at least 4 positions$/],
    [feature({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }), '/geometry/coordinates/0',
      /^\/geometry\/coordinates\/0: polygon ring is not closed \(first and last positions differ\)$/],
    [feature({ type: 'Polygon', coordinates: [square, [[0, 0], [1, 0], [1, 1], [0, 0, 5]]] }), '/geometry/coordinates/1', /ring is not closed/],
    [feature({ type: 'Polygon', coordinates: square }), '/geometry/coordinates/0/0', /expected a position .*got 0/],
    [feature({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]], bbox: 'x' }), '/geometry/bbox', /4 or 6 numbers/],
    [feature({ type: 'MultiPolygon', coordinates: [square] }), '/geometry/coordinates/0/0/0', /expected a position .*got 0/],
    [feature({ type: 'MultiPolygon', coordinates: [[[[0, 0], [1, 1], [0, 0]]]] }), '/geometry/coordinates/0/0', /a linear ring needs at least 4 positions/],
    [feature({ type: 'MultiPolygon', coordinates: [[]] }), '/geometry/coordinates/0', /a polygon needs at least 1 linear ring/],
    [feature({ type: 'GeometryCollection', geometries: {} }), '/geometry/geometries', /expected an array, got an object/],
    [feature({ type: 'GeometryCollection', geometries: [null] }), '/geometry/geometries/0', /must be a geometry object, got null/],
    [feature({ type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [0, 0] }, { type: 'GeometryCollection', geometries: [] }] }),
      '/geometry/geometries/1', /^\/geometry\/geometries\/1: a GeometryCollection must not contain another GeometryCollection$/],
    [feature({ type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [0, 100] }] }), '/geometry/geometries/0/coordinates/1', /latitude 100/]
  ]
  for (const [value, path, message] of cases) {
    t.throws(() => validateFeature(value), { name: 'GeoJsonInvalid', path, message }, `${path}: ${String(message)}`)
  }
  const err = (() => { try { validateFeature(feature(null, { type: 'x' })) } catch (e) { return e } })()
  t.ok(err instanceof GeoJsonInvalid && err instanceof Error, 'GeoJsonInvalid is an Error')
})

t.test('a long bad type string is cut short in the message', async t => {
  t.throws(() => validateFeature(feature({ type: 'x'.repeat(100_000), coordinates: [] })), { message: /^\/geometry\/type: unknown geometry type "x{40}…"$/ })
})

t.test('a 50,000-deep nested array is rejected as GeoJsonInvalid, not a stack overflow', async t => {
  let deep: unknown = [0, 0]
  for (let i = 0; i < 50_000; i++) deep = [deep]
  for (const type of ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon']) {
    let thrown: unknown
    try { validateFeature(feature({ type, coordinates: deep })) } catch (e) { thrown = e }
    t.ok(thrown instanceof GeoJsonInvalid, `${type}: ${String(thrown)}`)
    t.notOk(thrown instanceof RangeError)
  }
  t.throws(() => validateFeature(feature({ type: 'GeometryCollection', geometries: [deep] })), GeoJsonInvalid)
  t.ok(validateFeature(feature(null, { properties: { deep } })), 'properties are not inspected')
})

t.test('maxDepth bounds how deep the walk goes', async t => {
  const multi = feature({ type: 'MultiPolygon', coordinates: [[square]] })
  t.ok(validateFeature(multi, { maxDepth: 4 }))
  t.throws(() => validateFeature(multi, { maxDepth: 3 }), { path: '/geometry/coordinates/0/0/0', message: /nested deeper than 3 levels/ })
})

t.test('maxPositions is enforced across the whole feature, including a GeometryCollection', async t => {
  const line = (n: number): Position[] => Array.from({ length: n }, (_, i) => [i / n, 0])
  t.ok(validateFeature(feature({ type: 'LineString', coordinates: line(10) }), { maxPositions: 10 }))
  t.throws(() => validateFeature(feature({ type: 'LineString', coordinates: line(11) }), { maxPositions: 10 }),
    { path: '/geometry/coordinates/10', message: /more than 10 positions/ })
  const gc = { type: 'GeometryCollection', geometries: [{ type: 'LineString', coordinates: line(6) }, { type: 'MultiPoint', coordinates: line(6) }] }
  t.throws(() => validateFeature(feature(gc), { maxPositions: 10 }), { name: 'GeoJsonInvalid', path: '/geometry/geometries/1/coordinates/4' })
  t.ok(validateFeature(feature({ type: 'LineString', coordinates: line(100_000) })), 'the default allows 100,000')
  t.throws(() => validateFeature(feature({ type: 'LineString', coordinates: line(100_001) })), { message: /more than 100000 positions/ })
})

t.test('geometryBbox spans every position in 2D and is null when there is none', async t => {
  t.same(geometryBbox({ type: 'Point', coordinates: [7.5, 46.9, 500] }), [7.5, 46.9, 7.5, 46.9])
  t.same(geometryBbox({ type: 'LineString', coordinates: [[3, -1], [-2, 4, 99], [1, 2]] }), [-2, -1, 3, 4])
  t.same(geometryBbox({ type: 'Polygon', coordinates: [square, hole] }), [0, 0, 1, 1])
  t.same(geometryBbox({ type: 'MultiPolygon', coordinates: [[square], [[[5, 5], [6, 5], [6, 7], [5, 5]]]] }), [0, 0, 6, 7])
  t.same(geometryBbox({ type: 'MultiPoint', coordinates: [[-170, -10], [170, 10]] }), [-170, -10, 170, 10])
  t.same(geometryBbox({
    type: 'GeometryCollection',
    geometries: [{ type: 'Point', coordinates: [-5, 60] }, { type: 'MultiLineString', coordinates: [[[1, 1], [2, 2]]] }]
  }), [-5, 1, 2, 60])
  t.equal(geometryBbox(null), null)
  t.equal(geometryBbox({ type: 'GeometryCollection', geometries: [] }), null)
  t.equal(geometryBbox({ type: 'MultiPolygon', coordinates: [] }), null)
  t.equal(geometryBbox({ type: 'GeometryCollection', geometries: [{ type: 'LineString', coordinates: [] }] }), null)
})

t.test('random valid points and linestrings validate and their bbox contains every position', async t => {
  const position = fc.tuple(fc.double({ min: -180, max: 180, noNaN: true }), fc.double({ min: -90, max: 90, noNaN: true }),
    fc.option(fc.double({ min: -1e4, max: 1e4, noNaN: true }), { nil: undefined }))
    .map(([lon, lat, alt]) => alt === undefined ? [lon, lat] : [lon, lat, alt])
  const geometry = fc.oneof(
    position.map((coordinates): Geometry => ({ type: 'Point', coordinates })),
    fc.array(position, { minLength: 2, maxLength: 50 }).map((coordinates): Geometry => ({ type: 'LineString', coordinates }))
  )
  fc.assert(fc.property(geometry, fc.option(fc.oneof(fc.string(), fc.integer())), (g, id) => {
    const f = validateFeature(feature(g, id === null ? {} : { id }))
    const box = geometryBbox(f.geometry)
    if (box === null) return false
    const positions = g.type === 'Point' ? [g.coordinates] : g.type === 'LineString' ? g.coordinates : []
    return positions.every(([lon, lat]) => lon !== undefined && lat !== undefined &&
      box[0] <= lon && lon <= box[2] && box[1] <= lat && lat <= box[3]) &&
      positions.some(p => p[0] === box[0]) && positions.some(p => p[1] === box[3])
  }), { numRuns: 300 })
  t.pass('300 random geometries')
})

t.test('data/seed.geojson is what scripts/make-seed.ts writes, and every feature in it validates', async t => {
  const text = await readFile(SEED_PATH, 'utf8')
  t.equal(text, seedText(), 'regenerate with: node --import tsx scripts/make-seed.ts')
  const seed = JSON.parse(text) as { type: string, features: Array<Record<string, unknown>>, collections: Array<{ id: string }> }
  t.equal(seed.type, 'FeatureCollection')
  t.same(seed.collections.map(c => c.id), ['sites', 'networks'])
  const counts: Record<string, number> = {}
  let shared = 0
  for (const f of seed.features) {
    const valid = validateFeature(f)
    const key = `${String(f.collection)}/${String(f.org)}`
    counts[key] = (counts[key] ?? 0) + 1
    const [x0, y0, x1, y1] = geometryBbox(valid.geometry) ?? [NaN, NaN, NaN, NaN]
    if (x0 >= OVERLAP[0] && y0 >= OVERLAP[1] && x1 <= OVERLAP[2] && y1 <= OVERLAP[3]) shared++
  }
  t.same(counts, {
    'sites/acme': COUNTS.sites.acme,
    'sites/globex': COUNTS.sites.globex,
    'networks/acme': COUNTS.networks.acme,
    'networks/globex': COUNTS.networks.globex
  })
  t.equal(shared, seed.features.length / 10, 'a tenth of the features lie in the shared box')
})
