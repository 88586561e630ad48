// The FeatureStore contract (test/features/store-contract.ts) against the PostGIS backend on a throwaway cluster.
import t from 'tap'
import openPostgis from '../helpers/postgis-backend.js'
import { skipWithoutPostgis } from '../helpers/postgis.js'
import { featureStoreContract } from './store-contract.js'

if (skipWithoutPostgis !== false) t.test('the FeatureStore contract on PostGIS', { skip: skipWithoutPostgis }, async () => {})
else featureStoreContract(t, openPostgis)
