// Owns the trust in one remote issuer: its options, RFC 8414 discovery, its key set and its introspection endpoint,
// shared by every consumer outside the issuer (the Fastify remote verifier, the Koop auth plugin).
import { IntrospectionUnavailable, VerifierOptionsInvalid } from '../shared/errors.js'
import { discover, type IssuerMetadata } from './discovery.js'
import type { KeySource } from './key-source.js'
import { JwksClient, type JwksClientOptions } from './jwks-client.js'
import type { VerificationRules } from './rules.js'

export interface IssuerOptions {
  /** The one issuer trusted, exactly as in `iss` (e.g. https://auth.example.com); never taken from a token. */
  issuer: string
  /** The `aud` this service accepts (the issuer's AUDIENCE setting). */
  audience: string
  /** Allowed clock skew on exp/nbf/iat (s). Default 30. */
  clockToleranceS?: number
  /** Refuse tokens living longer than this (exp - iat, s); set it to the issuer's ACCESS_TOKEN_TTL_S. Default 3600. */
  maxLifetimeS?: number
  /** JWKS cache tuning; `uri` skips discovery. */
  jwks?: Omit<JwksClientOptions, 'jwksUri' | 'clock'> & { uri?: string }
  /**
   * Credentials of a client with the tokens:introspect scope, for checks that must see revocations at once.
   * `cacheS` (default 0, at most 300): reuse the issuer's `active: true` answer for a token this many seconds
   * (never past its exp), so a revocation may then take up to `cacheS` to be seen by requireActive routes.
   */
  introspection?: { clientId: string, clientSecret: string, cacheS?: number }
  clock?: () => number
}

// A longer memory would defeat requireActive: routes that can accept a late revocation should use authenticate alone.
const MAX_INTROSPECTION_CACHE_S = 300

/** Throws APP_VERIFIER_OPTIONS quoting the first bad value: a consumer fails when it starts, not on its first request. */
export function checkIssuerOptions (opts: IssuerOptions): void {
  const bad = (what: string): never => { throw new VerifierOptionsInvalid(what) }
  let url: URL | undefined
  try { url = new URL(opts.issuer) } catch { bad(`issuer ${JSON.stringify(opts.issuer)} is not an absolute URL`) }
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:') bad(`issuer ${JSON.stringify(opts.issuer)} must be http(s)`)
  if (opts.issuer.endsWith('/') || url?.search !== '' || url?.hash !== '') bad(`issuer ${JSON.stringify(opts.issuer)} must have no trailing slash, query or fragment`)
  if (typeof opts.audience !== 'string' || opts.audience === '') bad(`audience ${JSON.stringify(opts.audience)} must be a non-empty string`)
  for (const name of ['clockToleranceS', 'maxLifetimeS'] as const) {
    const v = opts[name]
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) bad(`${name} ${JSON.stringify(v)} must be a non-negative integer`)
  }
  const intro = opts.introspection
  if (intro !== undefined) {
    // Usually read from the environment: an unset variable arrives here as undefined or "". Name which one.
    const missing = (['clientId', 'clientSecret'] as const).filter(k => typeof intro[k] !== 'string' || intro[k] === '')
    if (missing.length > 0) {
      bad(`${missing.map(k => `introspection.${k} is ${JSON.stringify(intro[k]) ?? 'undefined'}`).join(' and ')}: ` +
        'give the id and secret of a client with the tokens:introspect scope, or leave introspection out (it is optional; without it requireActive is unavailable)')
    }
  }
  const cacheS = intro?.cacheS
  if (cacheS !== undefined && (!Number.isInteger(cacheS) || cacheS < 0 || cacheS > MAX_INTROSPECTION_CACHE_S)) {
    bad(`introspection.cacheS ${JSON.stringify(cacheS)} must be a whole number of seconds from 0 to ${MAX_INTROSPECTION_CACHE_S}`)
  }
}

export interface RemoteIssuer {
  rules: VerificationRules
  clock: () => number
  /** Deadline of every call to the issuer (discovery, JWKS, introspection, token) in ms. */
  timeoutMs: number
  /** The issuer's metadata, discovered on first use; a failure is retried on the next call, never cached. */
  metadata: () => Promise<IssuerMetadata>
  /** RS256 keys from the issuer's published JWKS. */
  keys: KeySource
  /**
   * RFC 7662: whether the issuer still holds `token` active. Throws APP_INTROSPECTION_UNAVAILABLE when it
   * cannot say. Undefined without introspection credentials.
   */
  introspect: ((token: string) => Promise<boolean>) | undefined
}

/** HTTP Basic for a client (RFC 6749 §2.3.1: id and secret form-urlencoded first). */
export function basicAuth (clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`
}

/** The issuer as seen from a consumer; `opts` must have passed checkIssuerOptions. */
export function remoteIssuer (opts: IssuerOptions): RemoteIssuer {
  const clock = opts.clock ?? Date.now
  const timeoutMs = opts.jwks?.timeoutMs ?? 2000
  let metadata: Promise<IssuerMetadata> | undefined
  const meta = async (): Promise<IssuerMetadata> => {
    metadata ??= discover(opts.issuer, timeoutMs).catch((err: unknown) => { metadata = undefined; throw err })
    return await metadata
  }
  const jwks = new JwksClient({ ...opts.jwks, clock, jwksUri: opts.jwks?.uri ?? (async () => (await meta()).jwks_uri) })
  const intro = opts.introspection
  const authorization = intro === undefined ? undefined : basicAuth(intro.clientId, intro.clientSecret)

  async function introspect (token: string): Promise<boolean> {
    try {
      const endpoint = (await meta()).introspection_endpoint
      if (endpoint === undefined) throw new Error('the issuer publishes no introspection_endpoint')
      const res = await fetch(endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
        headers: { authorization: authorization as string, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString()
      })
      if (res.status !== 200) { await res.body?.cancel(); throw new Error(`introspection answered ${res.status}`) }
      return ((await res.json()) as { active?: unknown }).active === true
    } catch (err) {
      throw new IntrospectionUnavailable((err as Error).message)
    }
  }

  return {
    rules: {
      issuer: opts.issuer,
      audience: opts.audience,
      clockToleranceS: opts.clockToleranceS ?? 30,
      maxLifetimeS: opts.maxLifetimeS ?? 3600
    },
    clock,
    timeoutMs,
    metadata: meta,
    keys: { publicKey: async (kid: string) => await jwks.key(kid, 'RS256') },
    introspect: authorization === undefined ? undefined : introspect
  }
}
