// The FeatureStore contract (test/features/store-contract.ts) against the embedded backend, opened on the seed as SEED_FILE.
import t from 'tap'
import openEmbedded from '../helpers/embedded-backend.js'
import { featureStoreContract } from './store-contract.js'

featureStoreContract(t, openEmbedded)
