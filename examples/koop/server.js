// Starts the example Koop app next to a running geotoken:  npm run build && node examples/koop/server.js
// Environment: GEOTOKEN_ISSUER (default http://127.0.0.1:3000, geotoken's default), GEOTOKEN_AUDIENCE (default
// ISSUER/features, geotoken's default), PORT (default 8080), HOST (default 127.0.0.1), KOOP_CACHE_TTL_S (default 60).
import { join } from 'node:path'

// Koop reads node-config's ./config directory when it is loaded; the example needs none.
process.env.SUPPRESS_NO_CONFIG_WARNING ??= 'true'
const { createKoop } = await import('./app.js')

const issuer = process.env.GEOTOKEN_ISSUER ?? 'http://127.0.0.1:3000'
const host = process.env.HOST ?? '127.0.0.1'
const koop = createKoop({
  auth: { issuer, audience: process.env.GEOTOKEN_AUDIENCE ?? `${issuer}/features` },
  dataDir: join(import.meta.dirname, 'data'),
  cacheTtlS: Number(process.env.KOOP_CACHE_TTL_S ?? 60),
  http: !issuer.startsWith('https:')
})
const server = koop.server.listen(Number(process.env.PORT ?? 8080), host, () => {
  const { port } = server.address()
  const base = `http://${host}:${port}`
  console.log(`koop listening on ${base}, guarded by geotoken at ${issuer}`)
  console.log(`  token service: ${base}/orgs/rest/info`)
  console.log(`  feature layer: ${base}/orgs/rest/services/sites/FeatureServer/0`)
})
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => { server.close(() => process.exit(0)) })
