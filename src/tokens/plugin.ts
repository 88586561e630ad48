// Fastify adapter for token state: refresh tokens, the access-token deny-list and used assertion ids.
import fp from 'fastify-plugin'
import { MemoryExpiringSet, type ExpiringIdSet } from './expiring-set.js'
import { MemoryRefreshTokenStore, RefreshTokens, type RefreshPolicy, type RefreshTokenStore } from './refresh-tokens.js'

export interface TokenState {
  refreshTokens: RefreshTokens
  /** jti of revoked access tokens, each until its exp: the guard refuses them. */
  revoked: ExpiringIdSet
  /** `iss|jti` of jwt-bearer assertions already exchanged (RFC 7523 §3 item 7). */
  usedAssertions: ExpiringIdSet
}

declare module 'fastify' {
  interface FastifyInstance { tokenState: TokenState }
}

export interface TokenStateOptions extends RefreshPolicy {
  clock: () => number
  /** Shared stores for several instances; in-process maps by default. */
  stores?: { refreshTokens?: RefreshTokenStore, revoked?: ExpiringIdSet, usedAssertions?: ExpiringIdSet }
}

export default fp(async function tokenState (app, opts: TokenStateOptions) {
  app.decorate('tokenState', {
    refreshTokens: new RefreshTokens(opts.stores?.refreshTokens ?? new MemoryRefreshTokenStore(opts.clock), opts),
    revoked: opts.stores?.revoked ?? new MemoryExpiringSet(opts.clock),
    usedAssertions: opts.stores?.usedAssertions ?? new MemoryExpiringSet(opts.clock)
  })
}, { name: 'geotoken-token-state', fastify: '5.x' })
