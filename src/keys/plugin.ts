// Fastify adapter for the key store: decorates app.keys and stops polling when the app closes.
import fp from 'fastify-plugin'
import { KeyStore, type KeyStoreOptions } from './store.js'

declare module 'fastify' {
  interface FastifyInstance { keys: KeyStore }
}

export default fp(async function keyStorePlugin (app, opts: Omit<KeyStoreOptions, 'log'>) {
  const store = await KeyStore.open({ ...opts, log: app.log })
  app.decorate('keys', store)
  app.addHook('onClose', async () => { store.stop() })
}, { name: 'geotoken-keys', fastify: '5.x' })
