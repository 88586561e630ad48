// Composition root: builds the Fastify app from a validated config, registering every plugin in order.
import Fastify, { type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { retentionMs, type Config } from './config.js'
import { loggerOptions } from './logger.js'
import keyStore from './keys/plugin.js'
import clientStore from './clients/plugin.js'
import oauth from './oauth/plugin.js'
import swagger from '@fastify/swagger'
import featureApi, { featureStore } from './features/plugin.js'
import { join } from 'node:path'
import type { VerificationRules } from './verifier/rules.js'

export interface AppDeps {
  clock?: () => number
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream
}

/** The rules the in-process guard applies; remote verifiers configure the same ones. */
export function verificationRules (config: Config): VerificationRules {
  return { issuer: config.ISSUER, audience: config.AUDIENCE, clockToleranceS: config.CLOCK_TOLERANCE_S, maxLifetimeS: config.ACCESS_TOKEN_TTL_S }
}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const clock = deps.clock ?? Date.now
  const app = Fastify({
    logger: loggerOptions(config.LOG_LEVEL, deps.logStream),
    trustProxy: false,
    return503OnClosing: true,
    requestIdHeader: false,
    allowErrorHandlerOverride: false
  })
  // Collects every route's schemas: the OpenAPI document at /features/api (the OGC service-desc).
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'geotoken', version: '0.1.0', description: 'OAuth 2.0 token service and org-scoped OGC API - Features' },
      servers: [{ url: config.ISSUER }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } }
    }
  })
  await app.register(keyStore, {
    dir: config.KEYS_DIR, keySize: config.KEY_SIZE, retentionMs: retentionMs(config), pollMs: config.RELOAD_INTERVAL_MS, clock
  })
  await app.register(clientStore, { dir: config.DATA_DIR, pollMs: config.RELOAD_INTERVAL_MS })
  await app.register(oauth, {
    issuer: config.ISSUER, audience: config.AUDIENCE, ttlS: config.ACCESS_TOKEN_TTL_S, clock, jwksMaxAgeS: config.JWKS_MAX_AGE_S
  })
  await app.register(featureStore, { dir: join(config.DATA_DIR, 'features'), seedFile: config.SEED_FILE })
  await app.register(featureApi, { prefix: '/features', rules: verificationRules(config), base: `${config.ISSUER}/features` })
  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }))
  return app
}
