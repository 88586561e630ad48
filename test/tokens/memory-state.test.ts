// The token-state contract (test/tokens/state-contract.ts) on the memory backend, opened as the app opens it.
import t from 'tap'
import { openTokenStateBackend } from '../../src/tokens/backend.js'
import { tokenStateContract } from './state-contract.js'

tokenStateContract(t, async t => {
  const backend = await openTokenStateBackend({ store: 'memory', dataDir: '', clock: Date.now })
  t.teardown(async () => { await backend.close() })
  return backend
})
