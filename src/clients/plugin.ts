// Fastify adapter for the client registry: decorates app.clients and stops polling when the app closes.
import fp from 'fastify-plugin'
import { ClientStore } from './store.js'

declare module 'fastify' {
  interface FastifyInstance { clients: ClientStore }
}

export default fp(async function clientStorePlugin (app, opts: { dir: string, pollMs: number }) {
  const store = await ClientStore.open(opts.dir, opts.pollMs, app.log)
  app.decorate('clients', store)
  app.addHook('onClose', async () => { store.stop() })
}, { name: 'geotoken-clients', fastify: '5.x' })
