// Owns what the Koop plugin reads from and writes to an Express request: the token (taken out of the request
// once read), the scopes the request needs, and the verified organization Koop's cache key must carry.
import { bearerToken, isB64Token, usesBearerScheme } from '../shared/bearer.js'
import { redactUrl } from '../shared/redact-url.js'
import type { AccessTokenClaims } from '../tokens/claims.js'
import { invalidToken, KoopAuthError } from './arcgis-error.js'

/** The part of an Express request the plugin uses: Koop 10 hands its auth plugin Express 4 requests. */
export interface KoopRequest {
  method?: string
  url: string
  originalUrl?: string
  path?: string
  headers: Record<string, string | string[] | undefined>
  query?: Record<string, unknown>
  body?: unknown
  /** Set by `authorize`: the verified claims, `org` included, for providers to use. */
  geotoken?: Readonly<AccessTokenClaims>
}

/**
 * The query parameter through which the verified organization enters Koop's default cache key (a hash of the
 * path, the query and the body, never the Authorization header): without it one organization's cached features
 * would be served to another whenever a provider sets a TTL.
 */
export const ORG_KEY_PARAM = 'geotoken_org'

// ArcGIS REST operations that change features (FeatureServer and its layers); any other path reads.
const EDIT_OPERATIONS = new Set(['applyEdits', 'addFeatures', 'updateFeatures', 'deleteFeatures', 'calculate', 'append'])

function params (value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

/** Removes `names` from the query, the body and the URLs Express and access loggers read, so nothing downstream sees them. */
export function scrub (req: KoopRequest, names: readonly string[]): void {
  const query = params(req.query)
  const body = params(req.body)
  for (const name of names) {
    if (query !== undefined) delete query[name]
    if (body !== undefined) delete body[name]
  }
  req.url = redactUrl(req.url)
  if (req.originalUrl !== undefined) req.originalUrl = redactUrl(req.originalUrl)
}

/**
 * The access token of a Koop request, from `Authorization: Bearer` (RFC 6750 §2.1) or, as ArcGIS clients send
 * it, the `token` query or form parameter (§2.3, §2.2); undefined when there is none. It is taken out of the
 * request before it is judged, so a refused token is not logged either. More than one carrier is refused
 * (§2: a client MUST NOT use more than one method), so what is verified is what the request carries.
 */
export function takeToken (req: KoopRequest): string | undefined {
  const authorization = req.headers.authorization
  const header = typeof authorization === 'string' && usesBearerScheme(authorization) ? authorization : undefined
  const inQuery = params(req.query)?.token
  const inBody = params(req.body)?.token
  scrub(req, ['token'])
  const given = [header, inQuery, inBody].filter(v => v !== undefined && v !== '')
  if (given.length === 0) return undefined
  if (given.length > 1) throw invalidToken('ambiguous')
  if (header !== undefined) {
    const token = bearerToken(header)
    if (token === undefined) throw invalidToken('malformed')
    return token
  }
  const token = given[0]
  if (typeof token !== 'string' || !isB64Token(token)) throw invalidToken('malformed')
  return token
}

/** `features:read`, and `features:write` too for an ArcGIS edit operation or a PUT, PATCH or DELETE. */
export function requiredScopes (req: KoopRequest): string[] {
  const path = req.path ?? req.url.split('?')[0] ?? ''
  let last = path.replace(/\/+$/, '').split('/').pop() ?? ''
  try { last = decodeURIComponent(last) } catch { /* a malformed escape is not an operation name */ }
  const writes = EDIT_OPERATIONS.has(last) || ['PUT', 'PATCH', 'DELETE'].includes((req.method ?? 'GET').toUpperCase())
  return writes ? ['features:read', 'features:write'] : ['features:read']
}

/** Hands the verified claims to providers and makes the organization part of Koop's cache key. */
export function attachClaims (req: KoopRequest, claims: AccessTokenClaims): void {
  req.geotoken = claims
  const query = params(req.query)
  // A client sending the parameter itself, in the body (which Koop's key reads after the query), must not pick
  // the cache entry of another organization.
  const body = params(req.body)
  if (body !== undefined) delete body[ORG_KEY_PARAM]
  if (query !== undefined) query[ORG_KEY_PARAM] = claims.org
  // Express 5 turns req.query into a getter that parses the URL again on every read: fail closed, not shared.
  if (params(req.query)?.[ORG_KEY_PARAM] !== claims.org) {
    throw new KoopAuthError(500, 'misconfigured', 'geotoken: cannot put the organization into Koop\'s cache key (req.query is not writable)')
  }
}
