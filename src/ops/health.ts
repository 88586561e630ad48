// Owns liveness, readiness and the closing state: GET /health, GET /ready, and 503 for requests that arrive while closing.
import type { FastifyInstance } from 'fastify'
import { Problem } from '../shared/errors.js'
import { ProblemSchema, sendProblem } from '../shared/problem.js'
import { servesInPart, type Readiness, type ReadinessCheck } from '../shared/readiness.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The checks GET /ready runs: each part of the service adds its own (ops knows none of them). */
    readiness: Readiness
  }
}

export interface HealthOptions { retryAfterS: number }

const SHUTTING_DOWN = 'the server is shutting down; retry on another instance'

/** The registry behind app.readiness: checks in the order they were added, each name once. */
class ReadinessChecks implements Readiness {
  readonly #checks = new Map<string, ReadinessCheck>()

  add (name: string, check: ReadinessCheck): void {
    if (this.#checks.has(name)) throw new Error(`readiness check ${name} is already registered`)
    this.#checks.set(name, check)
  }

  run (): Record<string, string> {
    return Object.fromEntries([...this.#checks].map(([name, check]) => [name, check()]))
  }
}

/** Registered at the root (through the ops plugin) before every other route, so its onRequest hook sees them all. */
export function addHealth (app: FastifyInstance, opts: HealthOptions): void {
  const readiness = new ReadinessChecks()
  app.decorate('readiness', readiness)
  let closing = false
  // Fastify's own return503OnClosing answers text-ish JSON before any hook; we answer problem+json instead, and
  // tell keep-alive clients to reconnect elsewhere. Requests already in flight are not affected: they finish.
  app.addHook('preClose', async () => { closing = true })
  // A response finishing while we close ends its keep-alive connection: otherwise server.close() would wait for the
  // idle socket until keepAliveTimeout (72 s), far past any shutdown deadline.
  // Callback hooks, not async ones: they run on every request, and an async hook costs a promise and a tick each.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) { done(); return }
    // `error`/`error_description` too: the token endpoint's response schema keeps only those (RFC 6749 shape).
    sendProblem(reply.header('connection', 'close'), new Problem(503, 'Service Unavailable', SHUTTING_DOWN, undefined, opts.retryAfterS),
      { error: 'temporarily_unavailable', error_description: SHUTTING_DOWN })
  })

  app.get('/health', {
    // Liveness stays 200 under overload: restarting a busy process would only make it worse.
    config: { pressureHandler: () => undefined },
    schema: {
      summary: 'liveness: the process answers',
      response: { 200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] } }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/ready', {
    schema: {
      summary: 'readiness: every registered check is ok (keyring.json valid, client registry open, the feature store taking writes and compacting), not shutting down or overloaded',
      response: {
        200: { type: 'object', properties: { status: { type: 'string', enum: ['ready', 'degraded'] }, checks: { type: 'object', additionalProperties: { type: 'string' } } }, required: ['status', 'checks'] },
        503: { ...ProblemSchema, description: 'not ready (RFC 9457 problem)' }
      }
    }
  }, async (_request, reply) => {
    const checks = readiness.run()
    const results = Object.values(checks)
    if (results.every(c => c === 'ok')) return { status: 'ready' as const, checks }
    // Serving in part (e.g. guarded routes verify while the shared token state is unreachable): pulling every
    // instance out of the balancer would turn a partial outage into a full one.
    if (results.every(c => c === 'ok' || servesInPart(c))) return { status: 'degraded' as const, checks }
    return sendProblem(reply, new Problem(503, 'Service Unavailable', 'not ready', undefined, opts.retryAfterS), { checks })
  })
}
