// A small Koop 10 app guarded by geotoken: the auth plugin first, then the geoservices output, then the provider.
import Koop from '@koopjs/koop-core'
import GeoServices from '@koopjs/output-geoservices'
import { arcgisError, koopAuth, redactUrl } from 'geotoken/koop'
import { orgsProvider } from './provider.js'

/**
 * @param {object} options
 * @param {object} [options.auth]  koopAuth options ({ issuer, audience, ... }); omitted only by the benchmark's
 *   unguarded baseline, which then serves `openOrg`'s data to anyone
 * @param {string} [options.openOrg]
 * @param {string} options.dataDir
 * @param {number} [options.cacheTtlS]  Koop's cache lifetime of an organization's data (default 60 s)
 * @param {boolean} [options.http]  advertise the token service as http:// (local development without TLS)
 * @param {object} [options.logger]  Koop's logger (winston-like); default Koop's own
 * @returns {Koop} `koop.server` is the Express app to listen with
 */
export function createKoop ({ auth, openOrg, dataDir, cacheTtlS = 60, http = false, logger }) {
  if (auth === undefined && openOrg === undefined) throw new Error('createKoop needs auth options (or openOrg for an unguarded benchmark baseline)')
  // The geoservices output is registered here rather than by Koop, to tell it the scheme of the token URL
  // that rest/info advertises to ArcGIS clients.
  const koop = new Koop({ skipGeoservicesRegistration: true, ...(logger !== undefined ? { logger } : {}) })
  // One access line per request, written when it is answered. The plugin takes the token out of the URL of
  // the requests it guards; ArcGIS clients also send it to rest/info, which it never sees: redactUrl covers both.
  koop.server.use((req, res, next) => {
    res.on('finish', () => { koop.log.info(`${req.method} ${redactUrl(req.originalUrl)} ${res.statusCode}`) })
    next()
  })
  // An auth plugin guards only the providers registered after it.
  if (auth !== undefined) koop.register(koopAuth(auth))
  koop.register(GeoServices, { logger: koop.log, useHttpForTokenUrl: http, authInfo: { isTokenBasedSecurity: auth !== undefined } })
  const orgOf = auth !== undefined ? req => req.geotoken?.org : () => openOrg
  koop.register(orgsProvider({ dataDir, cacheTtlS, orgOf, arcgisError }))
  return koop
}
