// Owns tenancy isolation under writes (issue 6): random orgs and writes never touch, reveal or adopt another org's
// features (reads are test/features/tenancy.test.ts).
import t from 'tap'
import fc from 'fast-check'
import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { build, tokenFor, tokensForOrgs } from '../helpers/app.js'
import type { OrgId } from '../../src/features/store.js'

const ORGS = ['acme', 'globex', 'initech', 'umbrella']
const COLLECTIONS = ['sites', 'networks'] as const

t.test('random writes on another organization\'s ids answer exactly like a missing id and change nothing', async t => {
  const { app, dataDir } = await build(t, { LOG_LEVEL: 'warn', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  const tokens = await tokensForOrgs(app, dataDir, ORGS)
  const auth = (org: string) => ({ authorization: `Bearer ${tokens[org] as string}` })

  // Each org creates features in both collections; the test remembers who owns what and its ETag.
  interface Owned { org: string, collection: string, etag: string, json: string }
  const owned = new Map<string, Owned>()
  const created = fc.sample(fc.tuple(fc.constantFrom(...ORGS), fc.constantFrom(...COLLECTIONS), fc.integer({ min: -170, max: 170 }), fc.integer({ min: -80, max: 80 })), { numRuns: 60, seed: 606 })
  for (const [org, collection, lon, lat] of created) {
    const res = await app.inject({
      method: 'POST', url: `/features/collections/${collection}/items`, headers: { ...auth(org), 'content-type': 'application/geo+json' },
      payload: { type: 'Feature', geometry: { type: 'Point', coordinates: [lon, lat] }, properties: { kind: 'office', name: `${org}-secret-name` } }
    })
    t.equal(res.statusCode, 201)
    const id = res.json().id as string
    owned.set(id, { org, collection, etag: res.headers.etag as string, json: (await app.features.forOrg(org as OrgId).get(collection, id))?.json as string })
  }
  const ids = [...owned.keys()]
  const countOf = async (org: string): Promise<number> => {
    let n = 0
    for (const c of COLLECTIONS) n += (await app.features.forOrg(org as OrgId).list(c, { properties: {}, limit: 0, offset: 0 })).numberMatched
    return n
  }
  const counts = Object.fromEntries(await Promise.all(ORGS.map(async org => [org, await countOf(org)])))

  type Op = 'GET' | 'PUT' | 'PATCH' | 'DELETE'
  const request = fc.record({
    caller: fc.constantFrom(...ORGS),
    victim: fc.constantFrom(...ids),
    op: fc.constantFrom<Op>('GET', 'PUT', 'PATCH', 'DELETE'),
    // Preconditions an attacker might use as an existence oracle.
    precondition: fc.constantFrom('none', 'if-match-star', 'if-match-victim-etag', 'if-none-match-victim-etag'),
    body: fc.constantFrom('valid', 'claims-victim-org', 'invalid-geojson', 'not-json', 'wrong-type'),
    sameCollection: fc.boolean()
  })
  const bodyFor = (kind: string, op: Op, victimOrg: string): { payload?: string, type?: string } => {
    const type = op === 'PATCH' ? 'application/merge-patch+json' : 'application/geo+json'
    switch (kind) {
      case 'valid': return { type, payload: JSON.stringify(op === 'PATCH' ? { properties: { name: 'taken' } } : { type: 'Feature', geometry: null, properties: { name: 'taken' } }) }
      case 'claims-victim-org': return { type, payload: JSON.stringify(op === 'PATCH' ? { properties: { org: victimOrg } } : { type: 'Feature', geometry: null, properties: { org: victimOrg } }) }
      case 'invalid-geojson': return { type, payload: JSON.stringify({ type: 'Feature', geometry: { type: 'Point', coordinates: [500, 0] } }) }
      case 'not-json': return { type, payload: '{"type":' }
      default: return { type: 'text/plain', payload: 'x' }
    }
  }
  const headersBut = (res: LightMyRequestResponse): Record<string, unknown> =>
    Object.fromEntries(Object.entries(res.headers).filter(([k]) => k !== 'date'))

  let compared = 0
  await fc.assert(fc.asyncProperty(request, async q => {
    const victim = owned.get(q.victim) as Owned
    if (victim.org === q.caller) return true
    const collection = q.sameCollection ? victim.collection : COLLECTIONS.find(c => c !== victim.collection) as string
    const missing = randomUUID() // same length as the victim's id, so even Content-Length cannot differ
    const send = async (id: string): Promise<LightMyRequestResponse> => {
      const headers: Record<string, string> = { ...auth(q.caller) }
      if (q.precondition === 'if-match-star') headers['if-match'] = '*'
      if (q.precondition === 'if-match-victim-etag') headers['if-match'] = victim.etag
      if (q.precondition === 'if-none-match-victim-etag') headers['if-none-match'] = victim.etag
      const body = q.op === 'PUT' || q.op === 'PATCH' ? bodyFor(q.body, q.op, victim.org) : {}
      if (body.type !== undefined) headers['content-type'] = body.type
      return await app.inject({ method: q.op, url: `/features/collections/${collection}/items/${id}`, headers, payload: body.payload })
    }
    const foreign = await send(q.victim)
    const absent = await send(missing)
    compared++
    if (foreign.statusCode < 400) throw new Error(`${q.op} on a foreign id answered ${foreign.statusCode}`)
    if (foreign.statusCode !== absent.statusCode) throw new Error(`${q.op}: foreign ${foreign.statusCode} vs missing ${absent.statusCode}`)
    if (foreign.body.replaceAll(q.victim, 'ID') !== absent.body.replaceAll(missing, 'ID')) throw new Error(`${q.op}: bodies differ: ${foreign.body} / ${absent.body}`)
    if (JSON.stringify(headersBut(foreign)) !== JSON.stringify(headersBut(absent))) throw new Error(`${q.op}: headers differ`)
    // Nothing of the victim shows, beyond the id the caller typed itself.
    const shown = `${foreign.body.replaceAll(q.victim, 'ID')}${JSON.stringify(foreign.headers)}`
    if (shown.includes(victim.etag.slice(1, -1)) && q.precondition === 'none') throw new Error('the victim\'s ETag leaked')
    if (ids.some(id => id !== q.victim && shown.includes(id))) throw new Error('another id leaked')
    if (ORGS.some(org => org !== q.caller && shown.includes(org))) throw new Error('another org\'s name leaked')
    if (shown.includes('secret-name')) throw new Error('the victim\'s properties leaked')
    // And the victim is untouched.
    const now = (await app.features.forOrg(victim.org as OrgId).get(victim.collection, q.victim))
    if (now?.etag !== victim.etag || now.json !== victim.json) throw new Error('the victim feature changed')
    return true
  }), { numRuns: 150, seed: 66 })
  t.ok(compared > 80, `${compared} foreign writes compared with missing ids`)
  for (const org of ORGS) t.equal(await countOf(org), counts[org], `${org} still has its ${counts[org] as number} features`)
  for (const [id, f] of owned) {
    if ((await app.features.forOrg(f.org as OrgId).get(f.collection, id))?.etag !== f.etag) t.fail(`${id} of ${f.org} changed`)
  }
})

t.test('a body claiming another organization never moves, adopts or reveals a feature', async t => {
  const { app, clients } = await build(t, { LOG_LEVEL: 'warn', OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0' })
  const acme = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
  const geo = { 'content-type': 'application/geo+json' }
  const globexFeature = (await app.features.forOrg('globex' as OrgId).get('sites', 'g1'))
  t.ok(globexFeature, 'globex owns g1 in the seed')

  await t.test('POST with properties.org and a foreign id is stored under the caller with a fresh id', async t => {
    const res = await app.inject({ method: 'POST', url: '/features/collections/sites/items', headers: { ...acme, ...geo }, payload: { type: 'Feature', id: 'g1', geometry: { type: 'Point', coordinates: [1, 1] }, properties: { org: 'globex', name: 'mine' } } })
    t.equal(res.statusCode, 201)
    const body = res.json() as { id: string, properties: { org: string } }
    t.not(body.id, 'g1', 'the server assigns the id')
    t.equal(body.properties.org, 'acme', 'stamped with the caller\'s org')
    t.equal(res.headers.location, `http://geotoken.test/features/collections/sites/items/${body.id}`, 'Location names only the new feature')
    t.equal(res.headers.etag, (await app.features.forOrg('acme' as OrgId).get('sites', body.id))?.etag, 'the ETag is the new feature\'s own')
    t.equal((await app.features.forOrg('globex' as OrgId).get('sites', body.id)), undefined, 'nothing was created for globex')
    t.same((await app.features.forOrg('globex' as OrgId).get('sites', 'g1')), globexFeature, 'globex\'s g1 is untouched')
    t.notMatch(res.body, /globex/, 'the answer never names globex')
  })

  await t.test('PUT on the caller\'s own id with properties.org keeps the caller\'s org', async t => {
    const res = await app.inject({ method: 'PUT', url: '/features/collections/sites/items/a1', headers: { ...acme, ...geo }, payload: { type: 'Feature', id: 'g1', geometry: null, properties: { org: 'globex' } } })
    t.equal(res.statusCode, 200)
    t.equal(res.json().properties.org, 'acme')
    t.equal(res.json().id, 'a1', 'the path names the feature, not the body')
    t.equal((await app.features.forOrg('globex' as OrgId).get('sites', 'a1')), undefined)
    t.same((await app.features.forOrg('globex' as OrgId).get('sites', 'g1')), globexFeature)
  })

  await t.test('PATCH setting properties.org, or removing it, keeps the caller\'s org', async t => {
    for (const patch of [{ properties: { org: 'globex' } }, { properties: { org: null } }, { properties: null }, { id: 'g1', properties: { org: 'globex' } }]) {
      const res = await app.inject({ method: 'PATCH', url: '/features/collections/sites/items/a2', headers: { ...acme, 'content-type': 'application/merge-patch+json' }, payload: patch })
      t.equal(res.statusCode, 200, JSON.stringify(patch))
      t.equal(res.json().properties.org, 'acme', `${JSON.stringify(patch)}: still acme`)
      t.equal(res.json().id, 'a2')
    }
    t.equal((await app.features.forOrg('globex' as OrgId).get('sites', 'a2')), undefined)
    t.same((await app.features.forOrg('globex' as OrgId).get('sites', 'g1')), globexFeature)
  })

  await t.test('If-Match with a foreign feature\'s ETag on an own id is a plain 412, not a match', async t => {
    const res = await app.inject({ method: 'PUT', url: '/features/collections/sites/items/a3', headers: { ...acme, ...geo, 'if-match': globexFeature?.etag as string }, payload: { type: 'Feature', geometry: null, properties: {} } })
    t.equal(res.statusCode, 412)
    t.notMatch(res.body, /globex|g1/)
  })

  await t.test('error answers for bad writes never carry another organization\'s ids or name', async t => {
    const foreignIds = ['g1', 'g2']
    const bad = [
      { method: 'POST' as const, url: '/features/collections/sites/items', payload: '{"type":"Feature","geometry":{"type":"Point","coordinates":[999,0]},"properties":{"org":"globex","ref":"g1"}}' },
      { method: 'POST' as const, url: '/features/collections/nowhere/items', payload: '{"type":"Feature","geometry":null}' },
      { method: 'PUT' as const, url: '/features/collections/sites/items/g2', payload: '{"type":"Feature","geometry":null}' },
      { method: 'PATCH' as const, url: '/features/collections/sites/items/g2', payload: '{"properties":{"org":"globex"}}' },
      { method: 'DELETE' as const, url: '/features/collections/networks/items/g1', payload: undefined }
    ]
    for (const b of bad) {
      const type = b.method === 'PATCH' ? 'application/merge-patch+json' : 'application/geo+json'
      const res = await app.inject({ method: b.method, url: b.url, headers: { ...acme, 'content-type': type }, payload: b.payload })
      t.ok(res.statusCode >= 400, `${b.method} ${b.url}: refused (${res.statusCode})`)
      const requested = b.url.split('/').pop() as string
      const shown = res.body.replaceAll(requested, 'ID')
      t.notOk(foreignIds.some(id => shown.includes(`"${id}"`) || shown.includes(` ${id} `)) || shown.includes('globex'), `${b.method} ${b.url}: nothing of globex in ${res.body}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
    }
    t.same((await app.features.forOrg('globex' as OrgId).get('sites', 'g1')), globexFeature, 'still untouched')
  })
})
