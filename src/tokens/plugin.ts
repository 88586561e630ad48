// Fastify adapter for token state: one backend chosen at start-up, exposed as app.tokenState with the refresh rules.
import fp from 'fastify-plugin'
import { openTokenStateBackend, type BackendOptions } from './backend.js'
import type { Readiness } from '../shared/readiness.js'
import { RefreshTokens, type RefreshPolicy } from './refresh-tokens.js'
import type { TokenStateBackend, TokenStateKind } from './state.js'

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
  /** The backend to open; 'memory' when not given. */
  kind?: TokenStateKind
  /** A backend opened by the caller (e.g. shared by several instances in one test), who also closes it. */
  backend?: TokenStateBackend
  /** Where a shared backend's store is (REDIS_URL and its timeout). */
  connection?: Omit<BackendOptions, 'log'>
  /** GET /ready shows the backend's status as `token-state` (a backend that is always whole adds nothing). */
  readiness?: Readiness
}

export default fp(async function tokenState (app, opts: TokenStateOptions) {
  let backend = opts.backend
  if (backend === undefined) {
    const opened = await openTokenStateBackend(opts.kind ?? 'memory', opts.clock, { ...opts.connection, log: app.log })
    app.addHook('onClose', async () => { await opened.close() })
    backend = opened
  }
  const status = backend.status
  if (status !== undefined) opts.readiness?.add('token-state', status)
  const { kind, revoked, refreshFamilies, usedAssertions, lockouts, rateLimits } = backend
  app.decorate('tokenState', { kind, revoked, refreshTokens: new RefreshTokens(refreshFamilies, { idleS: opts.idleS, absoluteS: opts.absoluteS }), usedAssertions, lockouts, rateLimits })
}, { name: 'geotoken-token-state', fastify: '5.x' })
