// FeatureIndex against brute force: bbox (incl. antimeridian), datetime, property filters, paging, replace, delete, org partitions.
import t from 'tap'
import fc from 'fast-check'
import type { Bbox, CollectionDef, ItemsQuery } from '../../src/features/store.js'
import { FeatureIndex, type IndexedFeature as StoredFeature } from '../../src/features/embedded/feature-index.js'
import type { Feature, Geometry } from '../../src/features/geojson.js'

const DEFS: CollectionDef[] = [
  { id: 'sites', title: 'Sites', description: 'points and polygons', temporalProperty: 'observed_at', queryables: ['kind', 'name'] },
  { id: 'other', title: 'Other', description: 'unused', queryables: [] }
]
const KINDS = ['depot', 'office', 'plant', 'yard']
const T0 = Date.parse('2020-01-01T00:00:00Z')
const T1 = Date.parse('2026-01-01T00:00:00Z')

/** mulberry32: a small seeded PRNG so every run builds the same data. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** The test's own model of one feature: what it was given and its box. */
interface Model { id: string, org: string, feature: Feature, box: Bbox | null, time: number | null }

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v))
const round = (v: number): number => Math.round(v * 1e4) / 1e4

function randomFeature (rand: () => number, i: number): { feature: Feature, box: Bbox | null, time: number | null } {
  const r = rand()
  let geometry: Geometry | null
  let box: Bbox | null
  if (r < 0.05) {
    geometry = null
    box = null
  } else if (r < 0.6) {
    const lon = round(-180 + 360 * rand())
    const lat = round(-90 + 180 * rand())
    geometry = { type: 'Point', coordinates: [lon, lat] }
    box = [lon, lat, lon, lat]
  } else {
    // A small polygon (up to ~4° wide), kept inside [-180, 180] × [-90, 90]; many sit near the antimeridian.
    const nearEdge = rand() < 0.2
    const lon = nearEdge ? (rand() < 0.5 ? 176 + 4 * rand() : -180 + 4 * rand()) : -180 + 360 * rand()
    const x0 = round(clamp(lon, -180, 180))
    const y0 = round(clamp(-90 + 180 * rand(), -90, 90))
    const x1 = round(clamp(x0 + 0.01 + 4 * rand(), -180, 180))
    const y1 = round(clamp(y0 + 0.01 + 4 * rand(), -90, 90))
    const ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    geometry = { type: 'Polygon', coordinates: [ring] }
    box = [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)]
  }
  const time = rand() < 0.1 ? null : Math.floor(T0 + (T1 - T0) * rand())
  const properties: Record<string, unknown> = { name: `n${i % 50}`, kind: KINDS[Math.floor(rand() * KINDS.length)] as string }
  if (time !== null) properties.observed_at = new Date(time).toISOString()
  // A numeric property: equality filters compare String(value).
  properties.level = Math.floor(rand() * 3)
  return { feature: { type: 'Feature', geometry, properties }, box, time }
}

function intersects (box: Bbox | null, q: Bbox): boolean {
  if (box === null) return false
  const [a, b, c, d] = box
  const [minX, minY, maxX, maxY] = q
  const lat = b <= maxY && d >= minY
  if (minX <= maxX) return lat && a <= maxX && c >= minX
  return lat && (c >= minX || a <= maxX)
}

/** Brute force over the model, in first-insertion order. */
function brute (models: Model[], org: string, q: Omit<ItemsQuery, 'limit' | 'offset'>): string[] {
  return models.filter(m => {
    if (m.org !== org) return false
    if (q.bbox !== undefined && !intersects(m.box, q.bbox)) return false
    if (q.datetime !== undefined) {
      const [s, e] = q.datetime
      if (m.time === null || (s !== null && m.time < s) || (e !== null && m.time > e)) return false
    }
    for (const [k, v] of Object.entries(q.properties)) {
      const actual = k === 'org' ? m.org : m.feature.properties?.[k]
      if (actual === undefined || actual === null || String(actual) !== v) return false
    }
    return true
  }).map(m => m.id)
}

const ALL = { limit: 1_000_000, offset: 0 }
const ids = (items: StoredFeature[]): string[] => items.map(f => f.id)

/** 2,000 features in org "acme" and 600 in "globex", interleaved; globex's ids all exist in acme too. */
function populate (seed = 20250101): { index: FeatureIndex, models: Model[] } {
  const rand = prng(seed)
  const index = new FeatureIndex(DEFS)
  const models: Model[] = []
  const counters: Record<string, number> = { acme: 0, globex: 0 }
  for (let i = 0; i < 2600; i++) {
    const org = i % 13 < 3 ? 'globex' : 'acme'
    // ids are counted per org, so every globex id also names a (different) acme feature.
    const id = `f${counters[org] = (counters[org] ?? 0) + 1}`
    const { feature, box, time } = randomFeature(rand, i)
    index.put(org, 'sites', id, feature)
    models.push({ id, org, feature, box, time })
  }
  return { index, models }
}

const bboxArb = fc.tuple(
  fc.double({ min: -180, max: 180, noNaN: true }), fc.double({ min: -180, max: 180, noNaN: true }),
  fc.double({ min: -90, max: 90, noNaN: true }), fc.double({ min: -90, max: 90, noNaN: true })
).map(([x1, x2, y1, y2]): Bbox => [x1, Math.min(y1, y2), x2, Math.max(y1, y2)]) // x1 > x2 is an antimeridian box

t.test('bbox queries equal a brute-force filter, including antimeridian-crossing boxes', async t => {
  const { index, models } = populate()
  t.equal(models.filter(m => m.org === 'acme').length, 2000, '2,000 features in the org under test')
  const fixed: Array<[string, Bbox]> = [
    ['whole world', [-180, -90, 180, 90]],
    ['Europe', [-10, 35, 30, 70]],
    ['antimeridian, narrow', [170, -60, -170, 60]],
    ['antimeridian, wide', [10, -90, -10, 90]],
    ['antimeridian, edge to edge', [180, -90, -180, 90]],
    ['a line of latitude', [-180, 0, 180, 0]],
    ['a degenerate point box', [0, 0, 0, 0]]
  ]
  for (const [name, bbox] of fixed) {
    for (const org of ['acme', 'globex']) {
      const page = index.list(org, 'sites', { bbox, properties: {}, ...ALL })
      const expected = brute(models, org, { bbox, properties: {} })
      t.strictSame(ids(page.items), expected, `${name} (${org}): ${expected.length} features, in insertion order`)
      t.equal(page.numberMatched, expected.length)
    }
  }
  const narrow = brute(models, 'acme', { bbox: [170, -60, -170, 60], properties: {} })
  t.ok(narrow.length > 20, `the antimeridian box catches features on both sides (${narrow.length})`)
  t.ok(narrow.some(id => (models.find(m => m.id === id && m.org === 'acme')?.box?.[0] ?? 0) > 0) &&
    narrow.some(id => (models.find(m => m.id === id && m.org === 'acme')?.box?.[0] ?? 0) < 0), 'east and west of 180°')

  let runs = 0
  let antimeridian = 0
  fc.assert(fc.property(bboxArb, bbox => {
    runs++
    if (bbox[0] > bbox[2]) antimeridian++
    const page = index.list('acme', 'sites', { bbox, properties: {}, ...ALL })
    const expected = brute(models, 'acme', { bbox, properties: {} })
    return JSON.stringify(ids(page.items)) === JSON.stringify(expected) && page.numberMatched === expected.length
  }), { numRuns: 200, seed: 7 })
  t.pass(`${runs} random bboxes (${antimeridian} crossing the antimeridian) match brute force`)
  t.ok(antimeridian > 20, 'random antimeridian boxes were exercised')
})

t.test('datetime intervals (open or closed, with and without bbox) equal brute force', async t => {
  const { index, models } = populate()
  const arb = fc.tuple(
    fc.option(fc.integer({ min: T0 - 86_400_000, max: T1 + 86_400_000 }), { nil: null, freq: 4 }),
    fc.option(fc.integer({ min: T0 - 86_400_000, max: T1 + 86_400_000 }), { nil: null, freq: 4 }),
    fc.option(bboxArb, { nil: undefined, freq: 2 })
  ).filter(([s, e]) => !(s === null && e === null))
    .map(([s, e, bbox]) => ({ datetime: (s !== null && e !== null && s > e ? [e, s] : [s, e]) as [number | null, number | null], bbox }))
  fc.assert(fc.property(arb, ({ datetime, bbox }) => {
    const q = { datetime, properties: {}, ...(bbox === undefined ? {} : { bbox }) }
    const page = index.list('acme', 'sites', { ...q, ...ALL })
    const expected = brute(models, 'acme', q)
    return JSON.stringify(ids(page.items)) === JSON.stringify(expected)
  }), { numRuns: 150, seed: 11 })
  t.pass('150 random intervals match brute force')

  // Inclusive ends: an interval that is exactly one feature's instant finds it.
  const one = models.find(m => m.org === 'acme' && m.time !== null) as Model
  const exact = index.list('acme', 'sites', { datetime: [one.time, one.time], properties: {}, ...ALL })
  t.ok(ids(exact.items).includes(one.id), 'both interval ends are inclusive')
  t.strictSame(ids(exact.items), brute(models, 'acme', { datetime: [one.time, one.time], properties: {} }))
  const open = index.list('acme', 'sites', { datetime: [null, T1], properties: {}, ...ALL })
  const withTime = models.filter(m => m.org === 'acme' && m.time !== null).length
  t.equal(open.numberMatched, withTime, 'features without the temporal property never match a datetime filter')
  t.ok(withTime < 2000, 'some features have no time')
})

t.test('property equality filters equal brute force, alone and combined with bbox and datetime', async t => {
  const { index, models } = populate()
  const arb = fc.record({
    kind: fc.option(fc.constantFrom(...KINDS, 'nope'), { nil: undefined }),
    name: fc.option(fc.integer({ min: 0, max: 55 }).map(i => `n${i}`), { nil: undefined }),
    level: fc.option(fc.constantFrom('0', '1', '2', '1.0'), { nil: undefined }),
    org: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
    bbox: fc.option(bboxArb, { nil: undefined }),
    start: fc.option(fc.integer({ min: T0, max: T1 }), { nil: undefined })
  })
  fc.assert(fc.property(arb, ({ kind, name, level, org, bbox, start }) => {
    const properties: Record<string, string> = {}
    if (kind !== undefined) properties.kind = kind
    if (name !== undefined) properties.name = name
    if (level !== undefined) properties.level = level
    if (org !== undefined) properties.org = org
    const q = { properties, ...(bbox === undefined ? {} : { bbox }), ...(start === undefined ? {} : { datetime: [start, null] as [number, null] }) }
    const page = index.list('acme', 'sites', { ...q, ...ALL })
    const expected = brute(models, 'acme', q)
    return JSON.stringify(ids(page.items)) === JSON.stringify(expected)
  }), { numRuns: 200, seed: 13 })
  t.pass('200 random property filters match brute force')
  const offices = index.list('acme', 'sites', { properties: { kind: 'office' }, ...ALL })
  t.ok(offices.numberMatched > 300 && offices.items.every(f => f.feature.properties?.kind === 'office'), `${offices.numberMatched} offices, nothing else`)
  t.equal(index.list('acme', 'sites', { properties: { kind: 'nope' }, ...ALL }).numberMatched, 0, 'an unknown value matches nothing')
  t.equal(index.list('acme', 'sites', { properties: { level: '1' }, ...ALL }).numberMatched,
    models.filter(m => m.org === 'acme' && m.feature.properties?.level === 1).length, 'a number matches its string form')
  t.equal(index.list('acme', 'sites', { properties: { org: 'globex' }, ...ALL }).numberMatched, 0, 'the stamped org is acme\'s own')
})

t.test('paging: offset/limit pages concatenate to the full ordered result', async t => {
  const { index } = populate()
  const queries: Array<Omit<ItemsQuery, 'limit' | 'offset'>> = [
    { properties: {} },
    { bbox: [-90, -45, 90, 45], properties: {} },
    { bbox: [150, -90, -150, 90], properties: {} },
    { properties: { kind: 'depot' }, datetime: [Date.parse('2022-01-01T00:00:00Z'), null] }
  ]
  for (const q of queries) {
    const full = index.list('acme', 'sites', { ...q, ...ALL })
    for (const limit of [1, 7, 10, 100, 999]) {
      const collected: string[] = []
      let pages = 0
      for (let offset = 0; ; offset += limit) {
        const page = index.list('acme', 'sites', { ...q, limit, offset })
        if (page.numberMatched !== full.numberMatched) t.fail(`numberMatched ${page.numberMatched} at offset ${offset}`)
        if (page.items.length > limit) t.fail(`page of ${page.items.length} > limit ${limit}`)
        pages++
        collected.push(...ids(page.items))
        if (page.items.length < limit) break
        if (offset > 5000) throw new Error('paging does not end')
      }
      t.strictSame(collected, ids(full.items), `limit ${limit}: ${pages} pages concatenate to the full result`)
    }
    t.pass(`${JSON.stringify(q)}: pages of 1, 7, 10, 100, 999 concatenate to all ${full.numberMatched}`)
    const beyond = index.list('acme', 'sites', { ...q, limit: 10, offset: full.numberMatched + 5 })
    t.strictSame(beyond.items, [], 'an offset past the end is an empty page')
    t.equal(beyond.numberMatched, full.numberMatched)
  }
})

t.test('replace keeps the feature\'s position; the spatial index follows the new geometry', async t => {
  const { index, models } = populate()
  const before = ids(index.list('acme', 'sites', { properties: {}, ...ALL }).items)
  const target = before[1000] as string
  const old = index.get('acme', 'sites', target) as StoredFeature
  // Move it to a spot nothing else occupies, then replace it again with a polygon there.
  const moved = index.put('acme', 'sites', target, { type: 'Feature', geometry: { type: 'Point', coordinates: [0.123456, -0.654321] }, properties: { kind: 'moved' } })
  t.equal(moved.seq, old.seq, 'the sequence number is kept')
  t.not(moved.etag, old.etag, 'a new representation has a new ETag')
  t.strictSame(ids(index.list('acme', 'sites', { properties: {}, ...ALL }).items), before, 'the full listing order is unchanged')
  const here = index.list('acme', 'sites', { bbox: [0.12, -0.66, 0.13, -0.65], properties: {}, ...ALL })
  t.strictSame(ids(here.items), [target], 'found at its new place')
  if (old.hasGeometry) {
    const there = index.list('acme', 'sites', { bbox: [old.minX, old.minY, old.maxX, old.maxY], properties: {}, ...ALL })
    t.notOk(ids(there.items).includes(target), 'no longer found at its old place')
  }
  // The model follows, so brute force still agrees everywhere, and in order.
  const m = models.find(x => x.org === 'acme' && x.id === target) as Model
  m.feature = moved.feature
  m.box = [0.123456, -0.654321, 0.123456, -0.654321]
  m.time = null
  const wide: Bbox = [-1, -1, 1, 1]
  t.strictSame(ids(index.list('acme', 'sites', { bbox: wide, properties: {}, ...ALL }).items), brute(models, 'acme', { bbox: wide, properties: {} }))
  t.strictSame(ids(index.list('acme', 'sites', { properties: { kind: 'moved' }, ...ALL }).items), [target])
  // Replacing with a null geometry takes it out of the spatial index but keeps it listed in place.
  index.put('acme', 'sites', target, { type: 'Feature', geometry: null, properties: null })
  t.strictSame(ids(index.list('acme', 'sites', { bbox: [0.12, -0.66, 0.13, -0.65], properties: {}, ...ALL }).items), [], 'a null geometry is not in any bbox')
  t.strictSame(ids(index.list('acme', 'sites', { properties: {}, ...ALL }).items), before, 'still at its position')
  t.same(index.get('acme', 'sites', target)?.feature.properties, { org: 'acme' }, 'null properties become just the stamped org')
})

t.test('delete removes a feature from the spatial index, the listing and the extent', async t => {
  const { index, models } = populate()
  const acme = models.filter(m => m.org === 'acme')
  const victims = acme.filter((_, i) => i % 3 === 0)
  t.ok(victims.every(v => index.delete('acme', 'sites', v.id)), `${victims.length} deletes each find their feature`)
  t.equal(index.delete('acme', 'sites', victims[0]?.id as string), false, 'a second delete finds nothing')
  t.equal(index.delete('nobody', 'sites', 'f1'), false, 'an unknown org has nothing to delete')
  const gone = new Set(victims.map(v => v.id))
  const remaining = models.filter(m => !(m.org === 'acme' && gone.has(m.id)))
  for (const bbox of [[-180, -90, 180, 90], [100, -90, -100, 90], [-20, -20, 20, 20]] as Bbox[]) {
    const page = index.list('acme', 'sites', { bbox, properties: {}, ...ALL })
    t.strictSame(ids(page.items), brute(remaining, 'acme', { bbox, properties: {} }), `bbox ${bbox.join(',')} matches brute force after deletes`)
    t.notOk(page.items.some(f => gone.has(f.id)), 'no deleted feature comes back from the tree')
  }
  t.equal(index.list('acme', 'sites', { properties: {}, ...ALL }).numberMatched, 2000 - victims.length)
  for (const v of victims.slice(0, 5)) t.equal(index.get('acme', 'sites', v.id), undefined)
  // globex's same-named features survive acme's deletes.
  const shared = models.find(m => m.org === 'globex' && gone.has(m.id)) as Model
  t.ok(index.get('globex', 'sites', shared.id), `globex's own ${shared.id} is untouched by acme's delete`)

  // Deleting everything: the tree is empty and the extent has no bbox.
  const small = new FeatureIndex(DEFS)
  small.put('o', 'sites', 'p', { type: 'Feature', geometry: { type: 'Point', coordinates: [10, 10] }, properties: { observed_at: '2025-01-01T00:00:00Z' } })
  small.put('o', 'sites', 'q', { type: 'Feature', geometry: { type: 'Point', coordinates: [-10, -5] }, properties: null })
  t.same(small.extent('o', 'sites').bbox, [-10, -5, 10, 10])
  small.delete('o', 'sites', 'q')
  t.same(small.extent('o', 'sites').bbox, [10, 10, 10, 10], 'the extent shrinks after a delete')
  t.strictSame(ids(small.list('o', 'sites', { bbox: [-11, -6, -9, -4], properties: {}, ...ALL }).items), [])
  small.delete('o', 'sites', 'p')
  t.same(small.extent('o', 'sites'), { bbox: null, interval: [null, null] }, 'no features, no extent')
  t.same(small.list('o', 'sites', { bbox: [-180, -90, 180, 90], properties: {}, ...ALL }), { items: [], numberMatched: 0 })
  // A re-created id is a new feature: it goes to the end of the order.
  small.put('o', 'sites', 'r', { type: 'Feature', geometry: null, properties: null })
  small.put('o', 'sites', 'p', { type: 'Feature', geometry: null, properties: null })
  t.strictSame(ids(small.list('o', 'sites', { properties: {}, ...ALL }).items), ['r', 'p'])
})

t.test('organization partitions never mix', async t => {
  const { index, models } = populate()
  const arb = fc.record({ bbox: fc.option(bboxArb, { nil: undefined }), kind: fc.option(fc.constantFrom(...KINDS), { nil: undefined }) })
  fc.assert(fc.property(fc.constantFrom('acme', 'globex'), arb, (org, { bbox, kind }) => {
    const page = index.list(org, 'sites', { properties: kind === undefined ? {} : { kind }, ...(bbox === undefined ? {} : { bbox }), ...ALL })
    const theirs = new Set(models.filter(m => m.org === org).map(m => m.feature))
    return page.items.every(f => f.feature.properties?.org === org && JSON.parse(f.json).properties.org === org) &&
      JSON.stringify(ids(page.items)) === JSON.stringify(brute(models, org, { properties: kind === undefined ? {} : { kind }, ...(bbox === undefined ? {} : { bbox }) })) &&
      theirs.size > 0
  }), { numRuns: 100, seed: 17 })
  t.pass('100 random queries return only the asking org\'s features')

  // The same id in two orgs is two features.
  const shared = models.find(m => m.org === 'globex' && models.some(a => a.org === 'acme' && a.id === m.id)) as Model
  const a = index.get('acme', 'sites', shared.id) as StoredFeature
  const g = index.get('globex', 'sites', shared.id) as StoredFeature
  t.not(a.json, g.json, `id ${shared.id} is a different feature in each org`)
  t.equal(g.feature.properties?.org, 'globex')

  // The org stamp comes from the caller, never the body.
  const spoof = new FeatureIndex(DEFS)
  spoof.put('acme', 'sites', 's', { type: 'Feature', geometry: { type: 'Point', coordinates: [1, 1] }, properties: { org: 'globex' } })
  t.equal(spoof.get('acme', 'sites', 's')?.feature.properties?.org, 'acme', 'a body org is overwritten')
  t.equal(spoof.get('globex', 'sites', 's'), undefined)
  t.same(spoof.list('globex', 'sites', { properties: {}, ...ALL }), { items: [], numberMatched: 0 })

  // Extents: each org's own features only.
  for (const org of ['acme', 'globex']) {
    const mine = models.filter(m => m.org === org)
    const boxes = mine.flatMap(m => m.box === null ? [] : [m.box])
    const times = mine.flatMap(m => m.time === null ? [] : [m.time])
    const expected: Bbox = [Math.min(...boxes.map(b => b[0])), Math.min(...boxes.map(b => b[1])), Math.max(...boxes.map(b => b[2])), Math.max(...boxes.map(b => b[3]))]
    const extent = index.extent(org, 'sites')
    t.same(extent.bbox, expected, `${org}'s extent bbox is the union of its own boxes`)
    t.same(extent.interval, [new Date(Math.min(...times)).toISOString(), new Date(Math.max(...times)).toISOString()], `${org}'s interval is its own`)
  }
  // A tiny org next to a big one: its extent is exactly its own feature.
  index.put('tiny', 'sites', 'only', { type: 'Feature', geometry: { type: 'Point', coordinates: [33.3, 44.4] }, properties: { observed_at: '2024-02-29T12:00:00Z' } })
  t.same(index.extent('tiny', 'sites'), { bbox: [33.3, 44.4, 33.3, 44.4], interval: ['2024-02-29T12:00:00.000Z', '2024-02-29T12:00:00.000Z'] })
  t.same(index.extent('tiny', 'other'), { bbox: null, interval: [null, null] }, 'another collection of the same org is empty')
  t.same(index.extent('nobody', 'sites'), { bbox: null, interval: [null, null] }, 'an unknown org has no extent')
  t.strictSame(ids(index.list('tiny', 'sites', { bbox: [-180, -90, 180, 90], properties: {}, ...ALL }).items), ['only'])
  t.throws(() => index.put('acme', 'nope', 'x', { type: 'Feature', geometry: null, properties: null }), /unknown collection nope/)
  // entries() yields every feature of every org exactly once.
  const all = [...index.entries()]
  t.equal(all.length, models.length + 1)
  t.equal(new Set(all.map(e => `${e.org}/${e.collection}/${e.feature.id}`)).size, all.length, 'no duplicates')
})
