// Fastify adapter for the client registry: decorates app.clients, registers its readiness check, stops polling on close.
import fp from 'fastify-plugin'
import type { Readiness } from '../shared/readiness.js'
import { ClientStore, type ClientSource } from './store.js'

declare module 'fastify' {
  interface FastifyInstance { clients: ClientStore }
}

export interface ClientStorePluginOptions {
  dir: string
  /** Where the registry lives; clients.json in `dir` when absent. */
  source?: ClientSource
  pollMs: number
  readiness: Readiness
}

export default fp(async function clientStorePlugin (app, opts: ClientStorePluginOptions) {
  const store = await ClientStore.open(opts.source ?? opts.dir, opts.pollMs, app.log)
  app.decorate('clients', store)
  // Open is ready: a bad clients.json keeps the last good registry serving (logged; store.health says since when).
  // In Redis, an unreachable server is reported: clients added, disabled or rotated meanwhile are not applied.
  opts.readiness.add('clients', () => {
    const failure = opts.source?.watch === undefined ? undefined : store.health.failure
    if (failure === undefined) return 'ok'
    const since = new Date(failure.since).toISOString()
    if (failure.code === 'APP_REDIS_UNAVAILABLE') return `degraded: the client registry in Redis cannot be reached since ${since}: known clients are served from memory; changes are applied once Redis is back`
    return `the client registry in Redis unusable (${failure.code}) since ${since}: serving the last good one`
  })
  app.addHook('onClose', async () => { store.stop() })
}, { name: 'geotoken-clients', fastify: '5.x' })
