// Benchmark case: the geotoken service as configured for production (info logging to stdout, which the runner
// sends to a file), on fresh key and data directories, with one client whose secret is handed to the runner.
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config.js'
import { buildApp } from '../../src/app.js'
import { createDemoClients } from '../../src/clients/store.js'
import { openStateStores } from '../../src/state-store.js'
import { announce, freePort, repoRoot } from './ready.js'

const root = mkdtempSync(join(tmpdir(), 'geotoken-bench-'))
const port = await freePort()
const config = loadConfig({
  ...process.env,
  HOST: '127.0.0.1',
  PORT: String(port),
  KEYS_DIR: join(root, 'keys'),
  DATA_DIR: join(root, 'data'),
  SEED_FILE: join(repoRoot(), 'data', 'seed.geojson'),
  // One client on one IP is the load here: the per-client and per-IP limits (still enforced, so their cost is
  // measured) are raised above what the machine can issue, as for a capacity test of a real deployment.
  TOKEN_RATE_PER_IP: '1000000',
  TOKEN_RATE_PER_CLIENT: '1000000',
  // STATE_STORE=redis keeps the key ring in Redis, sealed with a key-encryption key: a fresh one per run.
  ...(process.env.STATE_STORE === 'redis' && process.env.KEY_ENCRYPTION_KEY === undefined ? { KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } : {})
})
// The demo clients go where STATE_STORE puts the registry (DATA_DIR/clients.json, or Redis).
const stores = await openStateStores(config, { info () {}, warn () {}, error () {} } as never, { subscribe: false })
const [client] = await createDemoClients(stores.clients, new Date())
await stores.close()
const app = await buildApp(config)
await app.listen({ host: config.HOST, port: config.PORT })
announce({ port, issuer: config.ISSUER, audience: config.AUDIENCE, clientId: client?.client_id, clientSecret: client?.client_secret, dir: root })
// A clean exit on a signal lets `node --cpu-prof` write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void app.close().then(() => process.exit(0)) })
