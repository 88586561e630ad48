// Fastify adapter for the metrics: decorates app.metrics, times every request, serves GET /metrics behind a token.
import fp from 'fastify-plugin'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { createMetrics, type Metrics } from './metrics.js'
import { Problem } from '../shared/errors.js'
import { ProblemSchema, sendProblem } from '../shared/problem.js'

declare module 'fastify' {
  interface FastifyInstance { metrics: Metrics }
}

export interface MetricsOptions {
  /** Bearer token Prometheus presents; '' serves no /metrics route at all (404). */
  token: string
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * Constant-time check of `Authorization: Bearer <token>`: both sides are hashed, so lengths never differ. Not
 * shared/bearer.ts: METRICS_TOKEN may hold any visible ASCII, which its RFC 6750 b64token syntax would refuse.
 */
export function bearerMatches (authorization: string | undefined, expected: Buffer): boolean {
  const presented = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1] ?? ''
  return timingSafeEqual(digest(presented), expected) && presented !== ''
}

export default fp(async function metricsPlugin (app: FastifyInstance, opts: MetricsOptions) {
  const metrics = createMetrics()
  app.decorate('metrics', metrics)

  // The route *pattern* (`/features/collections/:collectionId/items`), never the URL: labels stay bounded.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
    done()
  })

  if (opts.token === '') return
  const expected = digest(opts.token)
  app.get('/metrics', {
    // Answered under overload too: that is when an operator needs the numbers.
    config: { pressureHandler: () => undefined },
    schema: {
      summary: 'Prometheus metrics (text exposition format 0.0.4)',
      security: [{ bearer: [] }],
      headers: { type: 'object', properties: { authorization: { type: 'string', description: 'Bearer METRICS_TOKEN' } } },
      response: {
        200: { description: 'metrics in the Prometheus text format', type: 'string' },
        401: { ...ProblemSchema, description: 'missing or wrong METRICS_TOKEN' }
      }
    }
  }, async (request, reply) => {
    if (!bearerMatches(request.headers.authorization, expected)) {
      return sendProblem(reply.header('www-authenticate', 'Bearer realm="metrics"'), new Problem(401, 'Unauthorized', 'present the metrics token: Authorization: Bearer <METRICS_TOKEN>'))
    }
    return reply.header('cache-control', 'no-store').type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}, { name: 'geotoken-metrics', fastify: '5.x' })
