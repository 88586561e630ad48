// A standard client reads the feature API: GDAL's OGC API - Features driver (ogrinfo), token in a header.
import t from 'tap'
import { build, tokenFor } from '../helpers/app.js'
import { hasOgr, ogrinfo } from '../helpers/ogrinfo.js'

// CI installs gdal-bin (.ci/run); elsewhere the test says why it did not run.
const skip = hasOgr ? false : process.env.CI !== undefined ? false : 'ogrinfo not installed (apt-get install gdal-bin)'

t.test('ogrinfo lists, counts, filters and pages each organization\'s own features', { skip }, async t => {
  const probe = await build(t, { LOG_LEVEL: 'silent' })
  await probe.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (probe.app.server.address() as { port: number }).port
  await probe.app.close()
  const { app, clients } = await build(t, { ISSUER: `http://127.0.0.1:${port}`, LOG_LEVEL: 'silent' })
  await app.listen({ host: '127.0.0.1', port })
  const ogr = ogrinfo(t)
  const endpoint = `OAPIF:http://127.0.0.1:${port}/features`
  const acme = await tokenFor(app, clients.acme)
  const globex = await tokenFor(app, clients.globex)

  const summary = await ogr(acme, '-so', '-al', endpoint)
  t.match(summary, /Layer name: sites[\s\S]*Geometry: Point[\s\S]*Feature Count: 3/)
  t.match(summary, /Layer name: networks[\s\S]*Feature Count: 1/)
  t.match(await ogr(globex, '-so', endpoint, 'sites'), /Feature Count: 2/, 'globex counts only its own')

  const paged = await ogr(acme, '-oo', 'PAGE_SIZE=1', endpoint, 'sites')
  t.same([...paged.matchAll(/name \(String\) = (\w+)/g)].map(m => m[1]).sort(), ['a1', 'a2', 'a3'], 'walking next links one feature at a time')
  t.notMatch(paged, /g1|g2|globex/, 'nothing of globex')

  const filtered = await ogr(acme, '-spat', '5', '47', '7', '49', endpoint, 'sites')
  t.same([...filtered.matchAll(/name \(String\) = (\w+)/g)].map(m => m[1]), ['a3'], 'bbox: acme sees a3, not globex\'s g2 beside it')

  await t.rejects(ogr('not-a-token', '-so', endpoint), 'a bad token is refused')
})
