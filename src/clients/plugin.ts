// Fastify adapter for the client registry: decorates app.clients, registers its readiness check, stops polling on close.
import fp from 'fastify-plugin'
import type { Readiness } from '../shared/readiness.js'
import { ClientStore } from './store.js'

declare module 'fastify' {
  interface FastifyInstance { clients: ClientStore }
}

export interface ClientStorePluginOptions { dir: string, pollMs: number, readiness: Readiness }

export default fp(async function clientStorePlugin (app, opts: ClientStorePluginOptions) {
  const store = await ClientStore.open(opts.dir, opts.pollMs, app.log)
  app.decorate('clients', store)
  // Open is ready: a bad clients.json keeps the last good registry serving (logged; store.health says since when).
  opts.readiness.add('clients', () => 'ok')
  app.addHook('onClose', async () => { store.stop() })
}, { name: 'geotoken-clients', fastify: '5.x' })
