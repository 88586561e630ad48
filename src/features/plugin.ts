// The resource server: opens the feature store and mounts the guarded OGC API under /features.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import guard from '../verifier/guard.js'
import type { VerificationRules } from '../verifier/rules.js'
import { EmbeddedFeatureStore, type EmbeddedStoreOptions } from './embedded/store.js'
import { orgOf, type FeatureStore, type OrgFeatures } from './store.js'
import { featureProblemHandler } from './problem.js'
import { sendProblem } from '../shared/problem.js'
import { notFound } from '../shared/errors.js'
import featureRoutes from './routes.js'
import cors from '@fastify/cors'
import type { OpenApiTransforms } from '../ops/docs.js'
import { withCollectionPaths } from './openapi.js'
import { countFeatureRequest, registerFeatureMetrics, storeEvents, type FeatureMetrics } from './metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    features: FeatureStore
    featureMetrics: FeatureMetrics
  }
  /** The store bound to the verified token's org, set once per request right after authentication. */
  interface FastifyRequest { orgFeatures: OrgFeatures }
}

export interface FeatureStoreOptions extends Omit<EmbeddedStoreOptions, 'log'> {
  /** A backend opened by the caller (another backend, or one shared by several instances in a test), who closes it. */
  store?: FeatureStore
}

/** Opens the embedded store at start-up (a damaged file stops it) and flushes it on close; registers its readiness. */
export const featureStore = fp(async function featureStorePlugin (app, { store: given, ...opts }: FeatureStoreOptions) {
  const metrics = registerFeatureMetrics(app.metrics.registry)
  app.decorate('featureMetrics', metrics)
  let store = given
  if (store === undefined) {
    const opened = await EmbeddedFeatureStore.open({ ...opts, log: app.log, events: storeEvents(metrics) })
    app.addHook('onClose', async () => { await opened.close() })
    store = opened
  }
  const features = store
  app.decorate('features', features)
  app.readiness.add('features', () => features.status())
}, { name: 'geotoken-feature-store', fastify: '5.x', dependencies: ['geotoken-metrics'] })

export interface FeatureApiOptions {
  rules: VerificationRules
  base: string
  /** Browser origins allowed to call the API (CORS_ORIGINS); none registers no CORS at all. */
  corsOrigins?: readonly string[]
  /** The OpenAPI document's transforms: the feature API adds one items path per collection. */
  openApi?: OpenApiTransforms
}

export default async function featureApi (app: FastifyInstance, opts: FeatureApiOptions) {
  const { features } = app
  opts.openApi?.add(doc => withCollectionPaths(doc, features.collections()))
  app.setErrorHandler(featureProblemHandler)
  app.setNotFoundHandler({ preHandler: app.authenticate }, async (request, reply) => sendProblem(reply, notFound(`no resource at ${request.url.split('?')[0] ?? ''}`)))
  // Geo-JSON bodies only; Fastify's JSON parser (prototype-poisoning safe) for each accepted type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(['application/json', 'application/geo+json', 'application/merge-patch+json'],
    { parseAs: 'string', bodyLimit: 1 << 20 }, app.getDefaultJsonParser('error', 'error'))
  await app.register(guard, {
    ...opts.rules, keys: app.keys, isRevoked: async claims => await app.tokenState.revoked.has(claims.jti),
    knownOrg: org => app.clients.directory.hasOrg(org),
    onRefused: reason => { app.metrics.verificationFailures.inc({ reason }) }
  })
  if (opts.corsOrigins !== undefined && opts.corsOrigins.length > 0) {
    // Before the guard's hook: a preflight carries no token and is answered by @fastify/cors in its own onRequest hook.
    await app.register(cors, {
      origin: [...opts.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match'],
      exposedHeaders: ['ETag', 'Location', 'WWW-Authenticate'],
      maxAge: 600
    })
  }
  app.addHook('onRequest', app.authenticate)
  // The one place a request's org is read: every feature route works on this handle, never on an org string.
  app.decorateRequest('orgFeatures', null as unknown as OrgFeatures)
  app.addHook('onRequest', (request, _reply, done) => {
    request.orgFeatures = app.features.forOrg(orgOf(request.user))
    done()
  })
  // Feature reads and writes by collection (metrics): counted once answered.
  app.addHook('onResponse', (request, reply, done) => {
    countFeatureRequest(app.featureMetrics, request.method, (request.params as { collectionId?: string } | undefined)?.collectionId, reply.statusCode)
    done()
  })
  await app.register(featureRoutes, { store: app.features, base: opts.base })
}
