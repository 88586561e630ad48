// Owns overload protection: @fastify/under-pressure answering RFC 9457 problem+json with Retry-After.
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Problem } from '../shared/errors.js'
import { problemBody } from '../shared/problem.js'

export interface OverloadOptions {
  /** Mean event-loop delay (ms) above which requests get 503; 0 = off. */
  maxEventLoopDelayMs: number
  /** V8 heap in use (MiB) above which requests get 503; 0 = off. */
  maxHeapUsedMb: number
  retryAfterS: number
}

/**
 * Registered at the root so every route is covered; a route opts out with `config: { pressureHandler: () => undefined }`
 * (/health, /metrics). The body is problem+json plus `error: "temporarily_unavailable"` and `error_description`: the token
 * endpoint's response schema keeps only those two, which is its RFC 6749 shape.
 */
export async function addOverloadProtection (app: FastifyInstance, opts: OverloadOptions): Promise<void> {
  await app.register(underPressure, {
    maxEventLoopDelay: opts.maxEventLoopDelayMs,
    maxHeapUsedBytes: opts.maxHeapUsedMb * 1024 * 1024,
    retryAfter: opts.retryAfterS,
    pressureHandler: problemAnswer(opts.retryAfterS)
  })
}

const OVERLOADED = 'the server is overloaded; retry later'

type PressureHandler = NonNullable<Parameters<typeof underPressure>[1]['pressureHandler']>

/**
 * under-pressure sends what the handler returns and stops the hook chain; a handler that sent the reply itself and
 * returned nothing would let the chain run on. Its type says `void`, hence the cast.
 */
function problemAnswer (retryAfterS: number): PressureHandler {
  const handler = (request: FastifyRequest, reply: FastifyReply, type: string): object => {
    request.log.warn({ event: 'overload', type }, 'overloaded: answering 503')
    reply.code(503).header('retry-after', String(retryAfterS)).header('cache-control', 'no-store').type('application/problem+json')
    return problemBody(new Problem(503, 'Service Unavailable', OVERLOADED), { error: 'temporarily_unavailable', error_description: OVERLOADED })
  }
  return handler as unknown as PressureHandler
}
