// Benchmark case: examples/koop's app, guarded by geotoken/koop (BENCH_KOOP=guarded; BENCH_KOOP_TOKEN_CACHE sets
// its verified-token cache, default the plugin's) or open (no auth plugin: acme's data to anyone), same provider.
import { join } from 'node:path'
import { announce, repoRoot } from './ready.js'

interface Example { createKoop: (options: object) => { server: { listen: (port: number, host: string, ready: () => void) => { address: () => unknown } } } }

// Koop loads node-config, which warns about the ./config directory this app does not need, and (the runner sets
// NODE_ENV=production) about having no config file for that environment.
process.env.SUPPRESS_NO_CONFIG_WARNING = 'true'
process.env.NODE_CONFIG_ENV = 'development'
const example = join(repoRoot(), 'examples', 'koop')
// The example imports `geotoken/koop`: the package's own build (dist/src), which `npm run build:bench` emits.
const { createKoop } = await import(join(example, 'app.js')) as Example
const guarded = process.env.BENCH_KOOP === 'guarded'
const tokenCacheSize = process.env.BENCH_KOOP_TOKEN_CACHE === undefined ? {} : { tokenCacheSize: Number(process.env.BENCH_KOOP_TOKEN_CACHE) }
const koop = createKoop({
  ...(guarded ? { auth: { issuer: process.env.BENCH_ISSUER, audience: process.env.BENCH_AUDIENCE, ...tokenCacheSize } } : { openOrg: 'acme' }),
  dataDir: join(example, 'data'),
  // Cached for the whole run in both cases: the provider is read once, the comparison is Koop's query path.
  cacheTtlS: 3600,
  http: true
})
const server = koop.server.listen(0, '127.0.0.1', () => { announce({ port: (server.address() as { port: number }).port }) })
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0))
