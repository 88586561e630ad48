// Owns abuse limits at the token endpoint: per-IP and per-client rate limits, and the failed-authentication lockout.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { requestCredentials } from '../oauth/client-auth.js'
import { FailureLockout, type LockoutOptions } from './lockout.js'
import { audit } from './audit.js'

export interface TokenLimitOptions {
  /** Requests per client IP per window. */
  perIp: number
  /** Requests per presented client_id per window. */
  perClient: number
  windowMs: number
  lockout: Omit<LockoutOptions, 'clock'>
  clock?: () => number
}

type Limit = 'ip' | 'client' | 'lockout'

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
 */
export default fp(async function tokenLimits (app: FastifyInstance, opts: TokenLimitOptions) {
  const clock = opts.clock ?? Date.now
  await app.register(rateLimit, { global: false })
  const byIp = app.createRateLimit({ max: opts.perIp, timeWindow: opts.windowMs })
  const byClient = app.createRateLimit({ max: opts.perClient, timeWindow: opts.windowMs, keyGenerator: request => `client:${presentedClientId(request) ?? ''}` })
  const lockout = new FailureLockout({ ...opts.lockout, clock })

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

  // Per IP first, before the body is even parsed.
  app.addHook('onRequest', async (request, reply) => {
    const result = await byIp(request)
    if (!result.isAllowed && result.isExceeded) {
      announce(request, 'ip', result.key, result.ttlInSeconds)
      return tooMany(reply, 'ip', result.ttlInSeconds)
    }
  })

  // Per client id once the body (client_secret_post) is parsed; a locked-out id is refused before its secret is
  // looked at, so the answer is the same whether the secret is right, wrong, or the client does not exist.
  app.addHook('preHandler', async (request, reply) => {
    const clientId = presentedClientId(request)
    if (clientId === undefined) return
    const lockedMs = lockout.lockedFor(clientId)
    if (lockedMs > 0) return tooMany(reply, 'lockout', Math.ceil(lockedMs / 1000))
    const result = await byClient(request)
    if (!result.isAllowed && result.isExceeded) {
      announce(request, 'client', result.key, result.ttlInSeconds, clientId)
      return tooMany(reply, 'client', result.ttlInSeconds)
    }
  })

  // onSend, not onResponse: the failure is counted before the answer leaves, so a client cannot race it.
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode !== 401 && reply.statusCode !== 200) return
    const clientId = presentedClientId(request)
    if (clientId === undefined) return
    if (reply.statusCode === 200) { lockout.succeed(clientId); return }
    const lockMs = lockout.fail(clientId)
    if (lockMs > 0) {
      app.metrics.clientLockouts.inc()
      audit(request.log, 'client.locked_out', { client_id: clientId, ip: request.ip, reason: 'failed_authentication', retry_after_s: Math.ceil(lockMs / 1000) })
    }
  })
}, { name: 'geotoken-token-limits', fastify: '5.x' })
