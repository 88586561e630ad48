// Owns the choice of token-state backend at start-up, and the in-memory one.
import type { Log } from '../shared/log.js'
import { MemoryExpiringSet } from './expiring-set.js'
import { MemoryLockoutStore } from './memory-lockouts.js'
import { MemoryRefreshFamilies } from './memory-refresh-families.js'
import type { TokenStateBackend, TokenStateKind } from './state.js'

/**
 * Everything in this process: lost on restart (revocations, refresh tokens and used assertion ids with it) and
 * not shared with other instances. Rate limits use @fastify/rate-limit's own in-process store.
 */
export function memoryBackend (clock: () => number = Date.now): TokenStateBackend {
  const revoked = new MemoryExpiringSet(clock)
  return {
    kind: 'memory',
    revoked,
    refreshFamilies: new MemoryRefreshFamilies(revoked, clock),
    usedAssertions: new MemoryExpiringSet(clock),
    lockouts: new MemoryLockoutStore(),
    rateLimits: {},
    close: async () => {}
  }
}

/** What a shared backend needs to reach its store (STATE_STORE=redis). */
export interface BackendOptions {
  redis?: { url: string, timeoutMs: number, prefix?: string, rateLimitUrl?: string }
  log?: Pick<Log, 'warn' | 'info'>
}

/** Opens the backend of the given kind. */
export async function openTokenStateBackend (kind: TokenStateKind, clock: () => number, opts: BackendOptions = {}): Promise<TokenStateBackend> {
  switch (kind) {
    case 'memory': return memoryBackend(clock)
    case 'redis': {
      if (opts.redis === undefined) throw new Error('the redis token-state backend needs REDIS_URL')
      // Loaded only when chosen: the default start does not pay for the Redis client.
      const { redisBackend } = await import('./redis-state.js')
      return await redisBackend({ ...opts.redis, ...(opts.log === undefined ? {} : { log: opts.log }) }, clock)
    }
  }
}
