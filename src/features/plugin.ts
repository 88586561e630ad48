// The resource server: opens the feature store and mounts the guarded OGC API under /features.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import guard from '../verifier/guard.js'
import type { VerificationRules } from '../verifier/rules.js'
import { EmbeddedFeatureStore, type EmbeddedStoreOptions } from './embedded-store.js'
import type { FeatureStore } from './store.js'
import { problemHandler, sendProblem } from './problem.js'
import { notFound } from '../errors.js'
import featureRoutes from './routes.js'

declare module 'fastify' {
  interface FastifyInstance { features: FeatureStore }
}

/** Opens the store at start-up (a damaged file stops it) and flushes it on close. */
export const featureStore = fp(async function featureStorePlugin (app, opts: Omit<EmbeddedStoreOptions, 'log'>) {
  const store = await EmbeddedFeatureStore.open({ ...opts, log: app.log })
  app.decorate('features', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'geotoken-feature-store', fastify: '5.x' })

export interface FeatureApiOptions { rules: VerificationRules, base: string }

export default async function featureApi (app: FastifyInstance, opts: FeatureApiOptions) {
  app.setErrorHandler(problemHandler)
  app.setNotFoundHandler({ preHandler: app.authenticate }, async (request, reply) => sendProblem(reply, notFound(`no resource at ${request.url.split('?')[0] ?? ''}`)))
  // Geo-JSON bodies only; Fastify's JSON parser (prototype-poisoning safe) for each accepted type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'application/geo+json', 'application/merge-patch+json'],
    { parseAs: 'string', bodyLimit: 1 << 20 }, app.getDefaultJsonParser('error', 'error'))
  await app.register(guard, { ...opts.rules, keys: app.keys })
  app.addHook('onRequest', app.authenticate)
  await app.register(featureRoutes, { store: app.features, base: opts.base })
}
