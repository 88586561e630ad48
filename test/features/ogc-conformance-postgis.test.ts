// The HTTP suite test/features/ogc-conformance.test.ts, unchanged, on the PostGIS backend (issue 17): every app the suite
// builds gets a fresh PgFeatureStore on this process's throwaway cluster (test/helpers/postgis-backend.ts).
import t from 'tap'
import { skipWithoutPostgis } from '../helpers/postgis.js'

// Every test builds an app on a fresh schema and pool: slower than the embedded run, longer than .taprc's 120 s.
t.setTimeout(600_000)

if (skipWithoutPostgis !== false) {
  t.test('ogc-conformance on PostGIS', { skip: skipWithoutPostgis }, async () => {})
} else {
  process.env.TEST_FEATURE_BACKEND = new URL('../helpers/postgis-backend.ts', import.meta.url).pathname
  await import('./ogc-conformance.test.js')
  const { opened } = await import('../helpers/postgis-backend.js')
  t.test('the suite ran on PostGIS', async t => { t.ok(opened.count > 0, `${opened.count} PostGIS stores opened`) })
}
