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
  /** Names the store in /ready ("keyring.json", "the key ring in Redis"). */
  label: string
  /** Where the key gauges go (the app's registry, served at /metrics). */
  metrics: Registry
}

export default fp(async function keyStorePlugin (app, { readiness, metrics, label, ...opts }: KeyStorePluginOptions) {
  const store = await KeyStore.open({ ...opts, log: app.log })
  app.decorate('keys', store)
  // Not ready while the stored ring is unusable (a bad keyring.json, Redis unreachable): the last good ring keeps
  // signing and verifying, but a rotation is not being applied.
  readiness.add('keys', () => {
    const failure = store.health.failure
    if (failure === undefined) return 'ok'
    const since = new Date(failure.since).toISOString()
    // Redis out of reach: the ring in memory serves whole, only a rotation waits, so the instance stays routable
    // (every instance loses Redis at once: a 503 here would take them all out of the balancer).
    if (failure.code === 'APP_REDIS_UNAVAILABLE') return `degraded: ${label} cannot be reached since ${since}: serving the ring in memory; rotations are applied once Redis is back`
    return `${label} unusable (${failure.code}) since ${since}: serving the last good ring`
  })
  registerKeyMetrics(metrics, store, opts.clock)
  app.addHook('onClose', async () => { store.stop() })
}, { name: 'geotoken-keys', fastify: '5.x' })
