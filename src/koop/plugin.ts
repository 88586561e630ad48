// Koop 10 auth plugin (`geotoken/koop`): geotoken access tokens guard Koop's Esri FeatureServer routes.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { VerifierOptionsInvalid } from '../shared/errors.js'
import type { AccessTokenClaims } from '../tokens/claims.js'
import { checkIssuerOptions, remoteIssuer, type IssuerOptions } from '../verifier/issuer.js'
import { activeCheck } from '../verifier/active-cache.js'
import { createVerifierCore } from '../verifier/core.js'
import { fromVerifier, missingScope, tokenRequired } from './arcgis-error.js'
import { generateToken, type ArcgisToken } from './generate-token.js'
import { attachClaims, requiredScopes, takeToken, type KoopRequest } from './koop-request.js'

export { arcgisError, KoopAuthError, type ArcgisCode, type KoopRefusalReason } from './arcgis-error.js'
export { ORG_KEY_PARAM, type KoopRequest } from './koop-request.js'
export type { ArcgisToken } from './generate-token.js'
export { redactUrl } from '../shared/redact-url.js'

export interface KoopAuthOptions extends IssuerOptions {
  /**
   * The `ssl` flag of generateToken's answer: true tells ArcGIS clients to send the token over HTTPS only.
   * Default: true when the issuer is https.
   */
  ssl?: boolean
  /** Scope asked of the issuer by generateToken; default everything the client may have. */
  scope?: string
  /** How many verified tokens to remember, so a client's next requests skip the signature check (default 10,000; 0: none). */
  tokenCacheSize?: number
}

/** What `koop.register()` takes as an auth plugin: Koop copies authorize and authenticate onto each provider's model. */
export interface KoopAuthPlugin {
  type: 'auth'
  name: string
  version: string
  /** Koop calls it before every provider data request; throws what Koop turns into an ArcGIS error answer. */
  authorize: (req: KoopRequest) => Promise<void>
  /** Koop's `rest/generateToken`. */
  authenticate: (req: KoopRequest) => Promise<ArcgisToken>
}

function checkOptions (opts: KoopAuthOptions): void {
  checkIssuerOptions(opts)
  const bad = (what: string): never => { throw new VerifierOptionsInvalid(what) }
  if (opts.ssl !== undefined && typeof opts.ssl !== 'boolean') bad(`ssl ${JSON.stringify(opts.ssl)} must be a boolean`)
  if (opts.scope !== undefined && (typeof opts.scope !== 'string' || !/^\S+( \S+)*$/.test(opts.scope))) bad(`scope ${JSON.stringify(opts.scope)} must be space-separated scope names`)
  const size = opts.tokenCacheSize
  if (size !== undefined && (!Number.isInteger(size) || size < 0)) bad(`tokenCacheSize ${JSON.stringify(size)} must be a non-negative integer`)
}

/** The version of the package this file ships in (geotoken, or the packed geotoken-verifier): the nearest package.json up. */
function packageVersion (): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try { return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version } catch {}
    if (dirname(dir) === dir) return '0.0.0'
  }
}

const version = packageVersion()

/**
 * The auth plugin for `koop.register()`, registered before the providers it guards. Options are checked
 * here, so a bad one stops the Koop app when it starts (APP_VERIFIER_OPTIONS).
 */
export function koopAuth (opts: KoopAuthOptions): KoopAuthPlugin {
  checkOptions(opts)
  const issuer = remoteIssuer(opts)
  // With introspection credentials every request asks the issuer, or reuses its `active: true` answer for
  // introspection.cacheS, as the remote verifier's requireActive does (never past the token's exp).
  const isActive = issuer.introspect === undefined ? undefined : activeCheck(issuer.introspect, (opts.introspection?.cacheS ?? 0) * 1000, issuer.clock)
  const verify = createVerifierCore({
    ...issuer.rules,
    keys: issuer.keys,
    clock: issuer.clock,
    cacheSize: opts.tokenCacheSize ?? 10_000,
    ...(isActive !== undefined ? { isRevoked: async (claims: AccessTokenClaims, token: string) => !await isActive(token, claims.exp) } : {})
  })
  const exchange = { issuer, verify, ssl: opts.ssl ?? opts.issuer.startsWith('https:'), scope: opts.scope }

  // The token leaves the request once read: a second authorize of the same request (a provider route that
  // authorizes, then pulls data through Koop) is judged by the claims the first one verified.
  const verified = new WeakMap<KoopRequest, AccessTokenClaims>()
  async function claimsOf (req: KoopRequest): Promise<AccessTokenClaims> {
    const known = verified.get(req)
    if (known !== undefined) return known
    const token = takeToken(req)
    if (token === undefined) throw tokenRequired()
    try {
      const claims = await verify(token)
      verified.set(req, claims)
      return claims
    } catch (err) {
      throw fromVerifier(err)
    }
  }

  // Arrow functions: Koop calls these as methods of each provider's model, and they must not depend on `this`.
  const authorize = async (req: KoopRequest): Promise<void> => {
    const claims = await claimsOf(req)
    const granted = claims.scope.split(' ')
    const lacking = requiredScopes(req).find(scope => !granted.includes(scope))
    if (lacking !== undefined) throw missingScope(lacking)
    attachClaims(req, claims)
  }
  const authenticate = async (req: KoopRequest): Promise<ArcgisToken> => await generateToken(exchange, req)
  return { type: 'auth', name: 'geotoken', version, authorize, authenticate }
}
