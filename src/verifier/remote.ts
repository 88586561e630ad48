// Fastify plugin for other services: verifies geotoken access tokens against the issuer's published JWKS.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { OAuthError, VerifierOptionsInvalid } from '../errors.js'
import { discover, type IssuerMetadata } from './discovery.js'
import guard, { sendChallenge } from './guard.js'
import { JwksClient, type JwksClientOptions } from './jwks-client.js'

export interface RemoteVerifierOptions {
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
  /** Credentials of a client with the tokens:introspect scope, for routes that must see revocations at once. */
  introspection?: { clientId: string, clientSecret: string }
  realm?: string
  clock?: () => number
}

// Re-exported types also make this module's declaration file load guard.d.ts, whose augmentations declare
// app.authenticate, app.requireScope and request.user for the consumer's compiler.
export type { KeySource } from './guard.js'
export type { AccessTokenClaims } from '../tokens/access-token.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler hook (after `authenticate`): asks the issuer (RFC 7662) whether the token is still active. */
    requireActive: preHandlerAsyncHookHandler
  }
}

function checkOptions (opts: RemoteVerifierOptions): void {
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
}

export default fp(async function geotokenVerifier (app, opts: RemoteVerifierOptions) {
  checkOptions(opts)
  const clock = opts.clock ?? Date.now
  const timeoutMs = opts.jwks?.timeoutMs ?? 2000
  let metadata: Promise<IssuerMetadata> | undefined
  // Discovery is retried on the next request when it fails, never cached as a failure.
  const meta = async (): Promise<IssuerMetadata> => {
    metadata ??= discover(opts.issuer, timeoutMs).catch((err: unknown) => { metadata = undefined; throw err })
    return await metadata
  }
  const jwks = new JwksClient({ ...opts.jwks, clock, jwksUri: opts.jwks?.uri ?? (async () => (await meta()).jwks_uri) })

  await app.register(guard, {
    issuer: opts.issuer,
    audience: opts.audience,
    clockToleranceS: opts.clockToleranceS ?? 30,
    maxLifetimeS: opts.maxLifetimeS ?? 3600,
    realm: opts.realm,
    clock,
    keys: { publicKey: async (kid: string) => await jwks.key(kid, 'RS256') }
  })

  const basic = opts.introspection === undefined
    ? undefined
    : `Basic ${Buffer.from(`${encodeURIComponent(opts.introspection.clientId)}:${encodeURIComponent(opts.introspection.clientSecret)}`).toString('base64')}`
  async function requireActive (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const token = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? ''
    let active: boolean
    try {
      if (basic === undefined) throw new Error('no introspection credentials')
      const endpoint = (await meta()).introspection_endpoint
      if (endpoint === undefined) throw new Error('the issuer publishes no introspection_endpoint')
      const res = await fetch(endpoint, {
        method: 'POST',
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString()
      })
      if (res.status !== 200) throw new Error(`introspection answered ${res.status}`)
      active = ((await res.json()) as { active?: unknown }).active === true
    } catch (err) {
      // Fail closed: a route that asked for revocation checks does not serve without one.
      request.log.warn({ event: 'token.introspection_failed', reason: (err as Error).message }, 'introspection failed')
      return await reply.code(503).header('retry-after', '5').type('application/problem+json')
        .send({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the token issuer could not confirm the token' })
    }
    if (!active) return sendChallenge(reply, opts.realm ?? 'geotoken', new OAuthError('invalid_token', 'token is no longer active', 401))
  }
  app.decorate('requireActive', requireActive)
  // A route asking for introspection without credentials to do it is refused when it is declared, not when called.
  app.addHook('onRoute', route => {
    if (basic === undefined && [route.preHandler, route.onRequest, route.preValidation].flat().includes(requireActive)) {
      throw new VerifierOptionsInvalid(`route ${route.method} ${route.url} uses requireActive, which needs the introspection option`)
    }
  })
}, { name: 'geotoken-verifier', fastify: '5.x' })
