// The token-state contract (test/tokens/state-contract.ts) on the embedded SQLite backend, opened as the app opens
// it: once with one handle per test, once with two handles on one file (what one writes, the other answers).
import t from 'tap'
import { openTokenStateBackend } from '../../src/tokens/backend.js'
import type { TokenStateBackend } from '../../src/tokens/state.js'
import { tokenStateContract } from './state-contract.js'

t.test('one handle', async t => {
  tokenStateContract(t, async t => {
    const backend = await openTokenStateBackend({ store: 'embedded', dataDir: t.testdir(), clock: Date.now })
    t.teardown(async () => { await backend.close() })
    t.equal(backend.kind, 'sqlite')
    return backend
  })
})

/**
 * Every write goes through one handle and every read through the other, each with its own connection to one file,
 * as two processes would: the lockouts and rate limits are per process by design (see sqlite-backend.ts) and stay on one.
 */
function crossed (writer: TokenStateBackend, reader: TokenStateBackend): TokenStateBackend {
  return {
    kind: writer.kind,
    revoked: { add: writer.revoked.add.bind(writer.revoked), has: reader.revoked.has.bind(reader.revoked) },
    usedAssertions: {
      // Alternating handles: a replay through the other handle must be refused just the same.
      add: (() => { let n = 0; return async (id: string, exp: number) => await (n++ % 2 === 0 ? writer : reader).usedAssertions.add(id, exp) })()
    },
    refreshFamilies: {
      get: reader.refreshFamilies.get.bind(reader.refreshFamilies),
      put: writer.refreshFamilies.put.bind(writer.refreshFamilies),
      markUsed: (() => { let n = 0; return async (hash: string) => await (n++ % 2 === 0 ? writer : reader).refreshFamilies.markUsed(hash) })(),
      addAccessTokenUnlessRevoked: reader.refreshFamilies.addAccessTokenUnlessRevoked.bind(reader.refreshFamilies),
      revokeFamily: writer.refreshFamilies.revokeFamily.bind(writer.refreshFamilies),
      isFamilyRevoked: reader.refreshFamilies.isFamilyRevoked.bind(reader.refreshFamilies)
    },
    lockouts: writer.lockouts,
    rateLimits: writer.rateLimits,
    close: async () => { await writer.close(); await reader.close() }
  }
}

t.test('two handles on one file', async t => {
  tokenStateContract(t, async t => {
    const dataDir = t.testdir()
    const one = await openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now })
    const two = await openTokenStateBackend({ store: 'embedded', dataDir, clock: Date.now })
    const backend = crossed(one, two)
    t.teardown(async () => { await backend.close() })
    return backend
  })
})
