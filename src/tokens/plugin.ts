// Fastify adapter for token state: one backend chosen at start-up, exposed as app.tokenState with the refresh rules.
import fp from 'fastify-plugin'
import { openTokenStateBackend, type OpenBackendOptions } from './backend.js'
import type { Readiness } from '../shared/readiness.js'
import { RefreshTokens, type RefreshPolicy } from './refresh-tokens.js'
import type { StateStore, TokenStateBackend } from './state.js'

/**
 * The backend's stores, except its raw refresh families: those are reached only through the rules
 * (`refreshTokens`), which keep rotation, reuse detection and revocation in one place.
 */
export interface TokenState extends Omit<TokenStateBackend, 'refreshFamilies' | 'close' | 'status'> {
  refreshTokens: RefreshTokens
}

declare module 'fastify' {
  interface FastifyInstance { tokenState: TokenState }
}

export interface TokenStateOptions extends RefreshPolicy {
  clock: () => number
  /** The backend to open (STATE_STORE); 'memory' when not given. */
  store?: StateStore
  /** DATA_DIR, where the embedded backend keeps its file; needed for store 'embedded'. */
  dataDir?: string
  /** A backend opened by the caller (e.g. shared by several instances in one test), who also closes it. */
  backend?: TokenStateBackend
  /** Where the redis backend's store is (REDIS_URL and its timeout). */
  redis?: OpenBackendOptions['redis']
  /** GET /ready shows the backend's status as `token-state` (a backend that is always whole adds nothing). */
  readiness?: Readiness
}

export default fp(async function tokenState (app, opts: TokenStateOptions) {
  let backend = opts.backend
  if (backend === undefined) {
    const store = opts.store ?? 'memory'
    if (store === 'embedded' && opts.dataDir === undefined) throw new Error('geotoken-token-state: the embedded store needs dataDir')
    const opened = await openTokenStateBackend({
      store, dataDir: opts.dataDir ?? '', clock: opts.clock, log: app.log, ...(opts.redis === undefined ? {} : { redis: opts.redis })
    })
    app.addHook('onClose', async () => { await opened.close() })
    backend = opened
  }
  const status = backend.status
  if (status !== undefined) opts.readiness?.add('token-state', status)
  const { kind, revoked, refreshFamilies, usedAssertions, lockouts, rateLimits } = backend
  app.decorate('tokenState', { kind, revoked, refreshTokens: new RefreshTokens(refreshFamilies, { idleS: opts.idleS, absoluteS: opts.absoluteS }), usedAssertions, lockouts, rateLimits })
}, { name: 'geotoken-token-state', fastify: '5.x' })
