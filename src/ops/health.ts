// Owns liveness, readiness and the closing state: GET /health, GET /ready, and 503 for requests that arrive while closing.
import type { FastifyInstance } from 'fastify'
import { Problem } from '../shared/errors.js'
import { ProblemSchema, sendProblem } from '../shared/problem.js'

export interface HealthOptions { retryAfterS: number }

const SHUTTING_DOWN = 'the server is shutting down; retry on another instance'

type Checks = Record<'keys' | 'clients' | 'features', string>

/** The key ring is loaded, and keyring.json was usable at the last read (else a rotation is not being applied). */
function keysCheck (app: FastifyInstance): string {
  if (!app.hasDecorator('keys') || app.keys === undefined || app.keys.view.signing === undefined) return 'not loaded'
  const failure = app.keys.health.failure
  return failure === undefined ? 'ok' : `keyring.json unusable (${failure.code}) since ${new Date(failure.since).toISOString()}: serving the last good ring`
}

/** What /ready checks: the key ring (and its file), the client registry and the feature store are open, and the store takes writes. */
function readiness (app: FastifyInstance): Checks {
  const loaded = (name: 'clients' | 'features'): 'ok' | 'not loaded' => app.hasDecorator(name) && app[name] !== undefined ? 'ok' : 'not loaded'
  return { keys: keysCheck(app), clients: loaded('clients'), features: loaded('features') === 'ok' ? app.features.status() : 'not loaded' }
}

/** Registered at the root (through the ops plugin) before every other route, so its onRequest hook sees them all. */
export function addHealth (app: FastifyInstance, opts: HealthOptions): void {
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
      summary: 'readiness: keys loaded and keyring.json valid, client registry and feature store open, the store taking writes and compacting, not shutting down or overloaded',
      response: {
        200: { type: 'object', properties: { status: { type: 'string', enum: ['ready'] }, checks: { type: 'object', additionalProperties: { type: 'string' } } }, required: ['status', 'checks'] },
        503: { ...ProblemSchema, description: 'not ready (RFC 9457 problem)' }
      }
    }
  }, async (_request, reply) => {
    const checks = readiness(app)
    if (Object.values(checks).every(c => c === 'ok')) return { status: 'ready' as const, checks }
    return sendProblem(reply, new Problem(503, 'Service Unavailable', 'not ready', undefined, opts.retryAfterS), { checks })
  })
}
