// A feature store in a process of its own, for tests that watch the process: its heap limit, its system calls.
// node --import tsx test/helpers/store-process.ts DIR SEED_FILE WRITES: opens the store (compacting after every
// write), makes WRITES creates, closes it, and prints one JSON line with what it held.
import { EmbeddedFeatureStore } from '../../src/features/embedded/store.js'
import type { Log } from '../../src/shared/log.js'
import type { OrgId } from '../../src/features/store.js'

const [dir, seedFile = '', writes = '0'] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: store-process.ts DIR [SEED_FILE] [WRITES]')
const log: Log = {
  info: () => {},
  warn: (...args: unknown[]) => { process.stderr.write(`${JSON.stringify(args)}\n`) },
  error: (...args: unknown[]) => { process.stderr.write(`${JSON.stringify(args)}\n`) }
} as unknown as Log

const store = await EmbeddedFeatureStore.open({ dir, seedFile, compactEvery: 1, log })
for (let i = 0; i < Number(writes); i++) {
  await store.forOrg('acme' as OrgId).create('sites', { type: 'Feature', geometry: { type: 'Point', coordinates: [i, i] }, properties: { name: `p${i}` } })
}
const a1 = (await store.forOrg('acme' as OrgId).get('sites', 'a1'))
const summary = {
  sites: (await store.forOrg('acme' as OrgId).list('sites', { properties: {}, limit: 1000, offset: 0 })).numberMatched,
  a1: a1 === undefined ? null : { version: a1.feature.properties?.version ?? null, bytes: a1.json.length },
  status: store.status()
}
await store.close()
process.stdout.write(`${JSON.stringify(summary)}\n`)
