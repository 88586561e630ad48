// Composition root: the service as one plugin registering its parts in dependency order, and the server around it.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import type { DestinationStream } from 'pino'
import { join } from 'node:path'
import { retentionMs, type Config } from './config.js'
import { AccessLog, loggerOptions } from './logger.js'
import keyStore from './keys/plugin.js'
import clientStore from './clients/plugin.js'
import tokenState from './tokens/plugin.js'
import type { TokenStateBackend } from './tokens/state.js'
import type { Scope } from './tokens/claims.js'
import type { VerificationRules } from './verifier/rules.js'
import ops from './ops/plugin.js'
import { openApiOptions, OpenApiTransforms } from './ops/docs.js'
import oauth from './oauth/plugin.js'
import { loadTrustedIssuers } from './oauth/trusted-issuers.js'
import featureApi, { featureStore } from './features/plugin.js'
import type { FeatureStore } from './features/store.js'
import { openStateStores } from './state-store.js'

const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  'features:read': 'read your organization\'s features',
  'features:write': 'create, replace, update and delete your organization\'s features',
  'tokens:introspect': 'introspect tokens issued to other clients (resource servers)'
}

export interface AppDeps {
  clock?: () => number
  /** Where log lines go (tests capture them); stdout by default. */
  logStream?: DestinationStream
  /** A token-state backend opened (and closed) by the caller, e.g. shared by several instances in one test. */
  tokenState?: TokenStateBackend
  /** A feature store opened (and closed) by the caller: another backend than the embedded one, e.g. in a test. */
  featureStore?: FeatureStore
}

/** The rules the in-process guard applies; remote verifiers configure the same ones. */
export function verificationRules (config: Config): VerificationRules {
  return { issuer: config.ISSUER, audience: config.AUDIENCE, clockToleranceS: config.CLOCK_TOLERANCE_S, maxLifetimeS: config.ACCESS_TOKEN_TTL_S }
}

/** Fastify's own options for the service. */
export function serverOptions (config: Config, deps: AppDeps = {}): FastifyServerOptions {
  return {
    logger: loggerOptions(config.LOG_LEVEL, deps.logStream),
    // Only listed proxies may set the client IP (X-Forwarded-For): it keys the per-IP rate limit.
    trustProxy: config.TRUST_PROXY === '' ? false : config.TRUST_PROXY,
    // The ops plugin answers requests that arrive while closing, as problem+json (src/ops/health.ts).
    return503OnClosing: false,
    requestIdHeader: false,
    logController: new AccessLog(),
    allowErrorHandlerOverride: false
  }
}

export interface GeotokenOptions { config: Config, deps?: AppDeps }

/** The whole service, registered at the root of an instance made with serverOptions() (buildApp does both). */
export const geotoken = fp(async function geotoken (app: FastifyInstance, { config, deps = {} }: GeotokenOptions) {
  const clock = deps.clock ?? Date.now
  // Collects every route's schemas: the OpenAPI document at /features/api (the OGC service-desc) and /docs/json.
  const openApi = new OpenApiTransforms()
  await app.register(swagger, openApiOptions(config.ISSUER, SCOPE_DESCRIPTIONS, openApi))
  // Security headers, closing/overload 503s, app.metrics and app.readiness, /health, /ready, /docs: before every other route and hook.
  await app.register(ops, {
    metricsToken: config.METRICS_TOKEN, issuer: config.ISSUER,
    overload: { maxEventLoopDelayMs: config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS, maxHeapUsedMb: config.OVERLOAD_MAX_HEAP_USED_MB, retryAfterS: config.OVERLOAD_RETRY_AFTER_S }
  })

  // The domain stores: the key ring, the client registry (files, or Redis with STATE_STORE=redis), the token state.
  const stores = await openStateStores(config, app.log, { subscribe: true })
  app.addHook('onClose', async () => { await stores.close() })
  try {
    await app.register(keyStore, {
      dir: config.KEYS_DIR, source: stores.ring, keySize: config.KEY_SIZE, retentionMs: retentionMs(config), pollMs: config.RELOAD_INTERVAL_MS, clock,
      readiness: app.readiness, metrics: app.metrics.registry, label: stores.redis ? 'the key ring in Redis' : 'keyring.json'
    })
    await app.register(clientStore, { dir: config.DATA_DIR, ...(stores.redis ? { source: stores.clients } : {}), pollMs: config.RELOAD_INTERVAL_MS, readiness: app.readiness })
  } catch (err) {
    // A start that fails here (a KEK that does not open the ring) never reaches close(): the connections would stay.
    await stores.close()
    throw err
  }
  await app.register(tokenState, {
    clock, idleS: config.REFRESH_TOKEN_IDLE_S, absoluteS: config.REFRESH_TOKEN_ABSOLUTE_S, store: config.STATE_STORE, dataDir: config.DATA_DIR, readiness: app.readiness,
    ...(config.STATE_STORE === 'redis' ? { redis: { url: config.REDIS_URL, rateLimitUrl: config.REDIS_RATE_LIMIT_URL, timeoutMs: config.REDIS_TIMEOUT_MS } } : {}),
    ...(deps.tokenState === undefined ? {} : { backend: deps.tokenState })
  })

  // The authorization server: /oauth/*, /.well-known/*.
  await app.register(oauth, {
    rules: verificationRules(config), ttlS: config.ACCESS_TOKEN_TTL_S, clock, jwksMaxAgeS: config.JWKS_MAX_AGE_S,
    trustedIssuers: await loadTrustedIssuers(config.TRUSTED_ISSUERS_FILE),
    limits: {
      perIp: config.TOKEN_RATE_PER_IP, perClient: config.TOKEN_RATE_PER_CLIENT, introspectPerClient: config.TOKEN_RATE_INTROSPECT_PER_CLIENT,
      windowMs: config.TOKEN_RATE_WINDOW_S * 1000, clock,
      lockout: { perSource: config.AUTH_LOCKOUT_AFTER, perClient: config.AUTH_LOCKOUT_CLIENT_AFTER, baseMs: config.AUTH_LOCKOUT_BASE_S * 1000, maxMs: config.AUTH_LOCKOUT_MAX_S * 1000 }
    }
  })

  // The feature store and the OGC API - Features over it: /features/*.
  // FEATURE_STORE=postgis: the tables of the collections file, checked against the catalog first (fail closed).
  let given = deps.featureStore
  if (given === undefined && config.FEATURE_STORE === 'postgis') {
    // Loaded only when chosen: the default start does not pay for the PostgreSQL client.
    const { PgFeatureStore } = await import('./features/postgis/pg-store.js')
    const opened = await PgFeatureStore.open({
      url: config.DATABASE_URL, collectionsFile: config.FEATURE_COLLECTIONS_FILE, poolMax: config.DATABASE_POOL_MAX, sharedConnections: config.DATABASE_SHARED_CONNECTIONS, timeoutMs: config.DATABASE_TIMEOUT_MS, log: app.log
    })
    app.addHook('onClose', async () => { await opened.close() })
    given = opened
  }
  await app.register(featureStore, {
    dir: join(config.DATA_DIR, 'features'), seedFile: config.SEED_FILE, compactBytes: config.FEATURE_JOURNAL_MAX_MB * 2 ** 20,
    ...(given === undefined ? {} : { store: given })
  })
  await app.register(featureApi, {
    prefix: '/features', rules: verificationRules(config), base: `${config.ISSUER}/features`, openApi,
    corsOrigins: config.CORS_ORIGINS === '' ? [] : config.CORS_ORIGINS.split(',').map(o => o.trim())
  })
}, { name: 'geotoken', fastify: '5.x' })

/** The service on a fresh Fastify instance, every plugin loaded (not yet listening). */
export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config, deps))
  await app.register(geotoken, { config, deps })
  return app
}
