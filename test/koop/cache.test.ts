// Tenancy in Koop's cache: Koop keys cached provider data by path, query and body, never by the Authorization
// header, so the plugin puts the verified organization into the key.
import t from 'tap'
import { join } from 'node:path'
import type { Server } from 'node:http'
import { koopAuth, type KoopRequest } from '../../src/koop/plugin.js'
import { listenIssuer } from '../helpers/net.js'
import { ACME, EXAMPLE, FORM, GLOBEX, QUERY, arcgisToken, captureLogger, get, listen, listenKoop, names } from '../helpers/koop.js'

const reads = (logs: string[], org: string): number => logs.filter(l => l.includes(`orgs provider: read ${org}/sites`)).length

t.test('org B never receives org A\'s cached features, and one organization\'s tokens share its cache entry', async t => {
  const issuer = await listenIssuer(t)
  const koop = await listenKoop(t, { auth: { issuer: issuer.base, audience: `${issuer.base}/features` }, cacheTtlS: 600 })
  const acme = await arcgisToken(koop.base, issuer.clients.acme)
  const globex = await arcgisToken(koop.base, issuer.clients.globex)

  t.same(names(await get(koop.layer + QUERY, { bearer: acme })), ACME, 'acme first: its features, now cached for 600 s')
  t.same(names(await get(koop.layer + QUERY, { bearer: globex })), GLOBEX, 'globex, same URL, same cache: its own features')
  t.same(names(await get(koop.layer + QUERY, { token: globex })), GLOBEX, 'and with the token in the URL')
  t.equal(reads(koop.logs, 'acme'), 1, 'acme\'s data read once')
  t.equal(reads(koop.logs, 'globex'), 1, 'each organization\'s data read once: the second globex query was a cache hit')

  const acmeAgain = await arcgisToken(koop.base, issuer.clients.acme)
  t.not(acmeAgain, acme, 'a new token')
  t.same(names(await get(koop.layer + QUERY, { token: acmeAgain })), ACME, 'acme with the new token')
  t.equal(reads(koop.logs, 'acme'), 1, 'a renewed token of the same organization hits the same entry: the token is not in the key')

  t.same(names(await get(`${koop.layer}${QUERY}&geotoken_org=globex`, { bearer: acme })), ACME, 'acme naming globex in the query still gets acme\'s features')
  // Koop's key hashes {...query, ...body}: the query's parameters, then globex's name from the body, would spell
  // exactly the key of globex's cached GET.
  const posted = await fetch(koop.layer + QUERY, { method: 'POST', headers: { ...FORM, authorization: `Bearer ${acme}` }, body: 'geotoken_org=globex' })
  t.same(names({ status: posted.status, body: await posted.json() as Record<string, unknown> }), ACME, 'and in a POST body, which Koop\'s key reads after the query')
  t.equal(reads(koop.logs, 'acme'), 1, 'both answered from acme\'s own cache entry')
})

t.test('control: Koop\'s default key alone (the organization left out of it) serves org A\'s cached features to org B', async t => {
  const issuer = await listenIssuer(t)
  // The same plugin, provider and output, with the plugin's cache-key parameter removed after authorize.
  const plugin = koopAuth({ issuer: issuer.base, audience: `${issuer.base}/features` })
  const leaky = { ...plugin, authorize: async (req: KoopRequest) => { await plugin.authorize(req); delete req.query?.geotoken_org } }
  const { logger, lines } = captureLogger()
  type Registrable = { register: (plugin: unknown, options?: unknown) => void, log: unknown, server: { listen: (port: number, host: string) => Server } }
  const { default: Koop } = await import('@koopjs/koop-core' as string) as { default: new (options: object) => Registrable }
  const { default: GeoServices } = await import('@koopjs/output-geoservices' as string) as { default: unknown }
  const { orgsProvider } = await import(join(EXAMPLE, 'provider.js')) as { orgsProvider: (options: object) => unknown }
  const app = new Koop({ skipGeoservicesRegistration: true, logger })
  app.register(leaky)
  app.register(GeoServices, { logger: app.log, useHttpForTokenUrl: true })
  app.register(orgsProvider({ dataDir: join(EXAMPLE, 'data'), cacheTtlS: 600, orgOf: (req: KoopRequest) => req.geotoken?.org, arcgisError: () => ({}) }))
  const koop = await listen(t, app.server, lines)

  const acme = await arcgisToken(koop.base, issuer.clients.acme)
  const globex = await arcgisToken(koop.base, issuer.clients.globex)
  t.same(names(await get(koop.layer + QUERY, { bearer: acme })), ACME, 'acme first, cached')
  t.same(names(await get(koop.layer + QUERY, { bearer: globex })), ACME, 'globex, authorized as globex, is served acme\'s cached features')
  t.equal(reads(koop.logs, 'globex'), 0, 'the provider was never asked for globex\'s data')
})
