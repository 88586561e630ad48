// A StoreFactory (test/features/store-contract.ts) for the embedded backend: the seed written as a SEED_FILE.
// Also usable as TEST_FEATURE_BACKEND=./test/helpers/embedded-backend.ts for the HTTP suites (test/helpers/app.ts).
import { join } from 'node:path'
import { EmbeddedFeatureStore } from '../../src/features/embedded/store.js'
import type { Log } from '../../src/shared/log.js'
import type { StoreFactory } from '../features/store-contract.js'

const quiet = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Log

const openEmbedded: StoreFactory = async (t, seed) => {
  const features = seed.features.map(({ org, collection, feature }) => ({ ...feature, org, collection }))
  const root = t.testdir({ 'seed.geojson': JSON.stringify({ type: 'FeatureCollection', collections: seed.collections, features }) })
  return await EmbeddedFeatureStore.open({ dir: join(root, 'features'), ...(seed.collections.length === 0 ? {} : { seedFile: join(root, 'seed.geojson') }), log: quiet })
}
export default openEmbedded
