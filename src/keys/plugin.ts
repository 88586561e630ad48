// Fastify adapter for the key store: decorates app.keys, registers its readiness check and gauges, stops polling on close.
import fp from 'fastify-plugin'
import type { Registry } from 'prom-client'
import type { Readiness } from '../shared/readiness.js'
import { registerKeyMetrics } from './metrics.js'
import { KeyStore, type KeyStoreOptions } from './store.js'

declare module 'fastify' {
  interface FastifyInstance { keys: KeyStore }
}

export interface KeyStorePluginOptions extends Omit<KeyStoreOptions, 'log'> {
  readiness: Readiness
  /** Where the key gauges go (the app's registry, served at /metrics). */
  metrics: Registry
}

export default fp(async function keyStorePlugin (app, { readiness, metrics, ...opts }: KeyStorePluginOptions) {
  const store = await KeyStore.open({ ...opts, log: app.log })
  app.decorate('keys', store)
  // Not ready while keyring.json is unusable: the last good ring keeps signing, but a rotation is not being applied.
  readiness.add('keys', () => {
    const failure = store.health.failure
    return failure === undefined ? 'ok' : `keyring.json unusable (${failure.code}) since ${new Date(failure.since).toISOString()}: serving the last good ring`
  })
  registerKeyMetrics(metrics, store, opts.clock)
  app.addHook('onClose', async () => { store.stop() })
}, { name: 'geotoken-keys', fastify: '5.x' })
