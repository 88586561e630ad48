// Issue 14: errors that say what would have been accepted, over HTTP.
import t from 'tap'
import { build, tokenFor } from '../helpers/app.js'

const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'

t.test('f and bbox-crs errors list the allowed values', async t => {
  const { app, clients } = await build(t)
  const headers = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
  const f = await app.inject({ url: '/features/collections/sites/items?f=html', headers })
  t.equal(f.statusCode, 400)
  t.match(f.json(), { status: 400, parameter: 'f', detail: 'f: must be one of: json, geojson' })
  const crs = await app.inject({ url: `/features/collections/sites/items?bbox=0,40,10,55&bbox-crs=${encodeURIComponent('http://www.opengis.net/def/crs/EPSG/0/4326')}`, headers })
  t.equal(crs.statusCode, 400)
  t.match(crs.json(), { parameter: 'bbox-crs', detail: `bbox-crs: must be one of: ${CRS84}` })
})

t.test('If-Match with a weak ETag answers 412 saying weak tags never match If-Match, for PUT, PATCH and DELETE', async t => {
  const { app, clients } = await build(t)
  const headers = { authorization: `Bearer ${await tokenFor(app, clients.acme)}` }
  const url = '/features/collections/sites/items/a1'
  const current = await app.inject({ url, headers })
  const weak = `W/${String(current.headers.etag)}`
  const body = { type: 'Feature', geometry: { type: 'Point', coordinates: [2.35, 48.85] }, properties: { name: 'a1', kind: 'office' } }
  const answers = [
    await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': weak, 'content-type': 'application/geo+json' }, payload: body }),
    await app.inject({ method: 'PATCH', url, headers: { ...headers, 'if-match': weak, 'content-type': 'application/merge-patch+json' }, payload: { properties: { kind: 'hq' } } }),
    await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': weak } })
  ]
  for (const res of answers) {
    t.equal(res.statusCode, 412)
    t.match(res.json().detail, /weak ETag never matches If-Match \(RFC 9110 §13\.1\.1/, 'the detail names the real reason')
    t.notMatch(res.json().detail, /has changed/, 'not "the feature has changed": it has not')
  }
  const stale = await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': '"stale"' } })
  t.equal(stale.statusCode, 412)
  t.match(stale.json().detail, /has changed since the ETag/, 'a stale strong tag keeps its own message')
  t.equal((await app.inject({ url, headers })).headers.etag, current.headers.etag, 'nothing was written')
})
