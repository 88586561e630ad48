// Owns abuse limits at the token endpoint: per-IP and per-client rate limits, the introspection limit, and the
// failed-authentication lockout.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { OAuthError } from '../shared/errors.js'
import { authenticatedClient, authenticationOutcome, requestCredentials } from './client-auth.js'
import { ClientLockout, type ClientLockoutOptions, type LockoutCheck } from './lockout.js'
import { audit } from '../shared/audit.js'
import type { LockoutStore, RateLimitStoreOptions } from '../tokens/state.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on the introspection route: it has its own per-client limit, spent only by authenticated requests. */
    introspection?: boolean
  }
}

export interface TokenLimitOptions {
  /** Requests per client IP per window; authenticated introspection is not counted. */
  perIp: number
  /** Authenticated token and revocation requests per client per window. */
  perClient: number
  /** Authenticated introspection requests per client per window: a resource server may introspect every request. */
  introspectPerClient: number
  windowMs: number
  lockout: Omit<ClientLockoutOptions, 'clock'>
  clock?: () => number
}

/** Where the counts live: the token-state backend's (app.tokenState), so the policy is the same on every backend. */
export interface TokenLimitStores {
  lockouts: LockoutStore
  rateLimits: RateLimitStoreOptions
}

type Limit = 'ip' | 'client' | 'introspect' | 'lockout'

/** The client id a request presents (Basic or body), before any check; undefined when it presents none. */
export function presentedClientId (request: FastifyRequest): string | undefined {
  try {
    return requestCredentials(request).clientId
  } catch {
    return undefined
  }
}

/**
 * Registered inside the token endpoint's scope (fastify-plugin: its hooks apply to that scope only).
 * RFC 6749 §5.2 has no throttling error; `temporarily_unavailable` (RFC 6749 §4.1.2.1: "temporary overloading")
 * says what happened, and the 429 (RFC 6585 §4) with Retry-After (RFC 9110 §10.2.3) says when to come back.
 * `slow_down` (RFC 8628 §3.5) was not chosen: it tells device-flow pollers to add 5 s to their interval.
 *
 * Nothing anyone else sends can throttle or lock out a client (issue 13): its per-client budgets are spent only by
 * requests that authenticated as it, and failed authentications lock out the (client id, source) pair, or new
 * sources once the per-client failure budget is spent (src/oauth/lockout.ts). Unauthenticated traffic is bounded
 * per source: the per-IP limit and the lockout.
 */
export default fp(async function tokenLimits (app: FastifyInstance, opts: TokenLimitOptions & TokenLimitStores) {
  const clock = opts.clock ?? Date.now
  await app.register(rateLimit, { ...opts.rateLimits, global: false })
  const byIp = app.createRateLimit({ max: opts.perIp, timeWindow: opts.windowMs })
  // Called only once the request has authenticated, so the presented id is the client's own.
  const byClient = app.createRateLimit({ max: opts.perClient, timeWindow: opts.windowMs, keyGenerator: request => `client:${presentedClientId(request) ?? ''}` })
  const byIntrospector = app.createRateLimit({ max: opts.introspectPerClient, timeWindow: opts.windowMs, keyGenerator: request => `introspect:${presentedClientId(request) ?? ''}` })
  const lockout = new ClientLockout(opts.lockouts, { ...opts.lockout, clock })
  // What the lockout check of a request saw, for its success to clear only what was there.
  const checked = new WeakMap<FastifyRequest, LockoutCheck>()

  // The counts live in the token-state store; when it is unreachable (APP_REDIS_UNAVAILABLE) the token and revocation
  // endpoints answer 503, but introspection is verification for resource servers and answers access tokens from the
  // local deny-list copy: its limits then fail open rather than take every resource server down with the store.
  // One warning per 10 s, not one per request.
  let warnedAt = -Infinity
  const uncounted = (request: FastifyRequest, err: unknown, what: string): void => {
    if ((err as { code?: string }).code !== 'APP_REDIS_UNAVAILABLE') throw err
    if (clock() - warnedAt < 10_000) return
    warnedAt = clock()
    request.log.warn({ event: 'limits.unavailable', what, err: (err as Error).message }, 'the token state store is unavailable: limits not applied or counted')
  }
  const failOpen = async <T>(request: FastifyRequest, introspection: boolean, fallback: T, call: () => Promise<T>): Promise<T> => {
    if (!introspection) return await call()
    try { return await call() } catch (err) { uncounted(request, err, 'introspection limits'); return fallback }
  }

  // One audit line per key and window, not per refused request: a flood must not flood the log too.
  const announced = new Map<string, number>()
  const announce = (request: FastifyRequest, limit: Limit, key: string, retryAfterS: number, clientId?: string): void => {
    const now = clock()
    if ((announced.get(`${limit}:${key}`) ?? 0) > now) return
    announced.delete(`${limit}:${key}`)
    announced.set(`${limit}:${key}`, now + retryAfterS * 1000)
    if (announced.size > 10_000) announced.delete(announced.keys().next().value as string)
    audit(request.log, 'rate.limited', { reason: limit, client_id: clientId, ip: request.ip, retry_after_s: retryAfterS })
  }

  const tooMany = (reply: FastifyReply, limit: Limit, retryAfterS: number): FastifyReply => {
    app.metrics.tokenRequestsLimited.inc({ limit })
    const description = limit === 'lockout'
      ? 'too many failed authentications for this client; retry later'
      : 'too many token requests; retry later'
    return reply.code(429).header('retry-after', String(retryAfterS))
      .send({ error: 'temporarily_unavailable', error_description: description })
  }

  const limited = async (request: FastifyRequest, reply: FastifyReply, limit: 'ip' | 'client' | 'introspect', clientId?: string): Promise<FastifyReply | undefined> => {
    const result = await (limit === 'ip' ? byIp : limit === 'client' ? byClient : byIntrospector)(request)
    if (result.isAllowed || !result.isExceeded) return undefined
    announce(request, limit, result.key, result.ttlInSeconds, clientId)
    return tooMany(reply, limit, result.ttlInSeconds)
  }

  // Per IP first, before the body is even parsed; introspection is counted per IP only when it fails to
  // authenticate (below), so a busy resource server behind a shared address is not held to the per-IP limit.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.introspection === true) return
    return await limited(request, reply, 'ip')
  })

  // Once the body (client_secret_post) is parsed. A locked-out pair is refused before its secret is looked at,
  // so the answer is the same whether the secret is right, wrong, or the client does not exist.
  app.addHook('preHandler', async (request, reply) => {
    const introspection = request.routeOptions.config.introspection === true
    const clientId = presentedClientId(request)
    if (clientId !== undefined) {
      const check = await failOpen(request, introspection, undefined, async () => await lockout.check(clientId, request.ip))
      if (check !== undefined) checked.set(request, check)
      if (check !== undefined && check.waitMs > 0) return tooMany(reply, 'lockout', Math.ceil(check.waitMs / 1000))
    }
    let authenticated = false
    try { authenticatedClient(request, app.clients.directory, clock()); authenticated = true } catch { /* the endpoint answers the error */ }
    if (!authenticated) return introspection ? await failOpen(request, true, undefined, async () => await limited(request, reply, 'ip')) : undefined
    return await failOpen(request, introspection, undefined, async () => await limited(request, reply, introspection ? 'introspect' : 'client', clientId))
  })

  // onSend, not onResponse: the outcome is counted before the answer leaves, so a client cannot race it.
  app.addHook('onSend', async request => {
    const outcome = authenticationOutcome(request)
    const clientId = presentedClientId(request)
    if (outcome === undefined || clientId === undefined) return
    // The answer is decided: a count the store cannot take now (Redis down) is lost rather than turning it into an
    // error. Only counts are lost: while the store is down only introspection gets this far.
    try { await countOutcome(request, outcome, clientId) } catch (err) { uncounted(request, err, 'authentication outcome') }
  })

  const countOutcome = async (request: FastifyRequest, outcome: NonNullable<ReturnType<typeof authenticationOutcome>>, clientId: string): Promise<void> => {
    if (!(outcome instanceof OAuthError)) { await lockout.succeed(clientId, request.ip, checked.get(request)); return }
    if (outcome.error !== 'invalid_client') return
    const { sourceMs, clientMs } = await lockout.fail(clientId, request.ip)
    if (sourceMs > 0 || clientMs > 0) {
      app.metrics.clientLockouts.inc()
      audit(request.log, 'client.locked_out', {
        client_id: clientId, ip: request.ip, reason: 'failed_authentication', retry_after_s: Math.ceil(Math.max(sourceMs, clientMs) / 1000),
        detail: clientMs > sourceMs ? 'per-client failure budget spent: sources new to this client wait' : 'this source waits for this client'
      })
    }
  }
}, { name: 'geotoken-token-limits', fastify: '5.x' })
