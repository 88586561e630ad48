// Owns the choice of token-state backend at start-up (STATE_STORE), and the in-memory one.
import { join } from 'node:path'
import type { Log } from '../shared/log.js'
import { MemoryExpiringSet } from './expiring-set.js'
import { MemoryLockoutStore } from './memory-lockouts.js'
import { MemoryRefreshFamilies } from './memory-refresh-families.js'
import { openSqliteBackend, TOKEN_STATE_FILE } from './sqlite-backend.js'
import type { StateStore, TokenStateBackend } from './state.js'

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

export interface OpenBackendOptions {
  store: StateStore
  /** DATA_DIR: the embedded store's file is DATA_DIR/token-state.sqlite. */
  dataDir: string
  clock: () => number
  /** Where the redis store is (REDIS_URL, its timeout, an optional second Redis for rate limits). */
  redis?: { url: string, timeoutMs: number, prefix?: string, rateLimitUrl?: string }
  log?: Pick<Log, 'warn' | 'info'>
}

/** Opens the backend STATE_STORE names; each value is one case here. */
export async function openTokenStateBackend (opts: OpenBackendOptions): Promise<TokenStateBackend> {
  const log = opts.log === undefined ? {} : { log: opts.log }
  switch (opts.store) {
    case 'embedded': return openSqliteBackend({ file: join(opts.dataDir, TOKEN_STATE_FILE), clock: opts.clock, ...log })
    case 'memory': return memoryBackend(opts.clock)
    case 'redis': {
      if (opts.redis === undefined) throw new Error('the redis token-state backend needs REDIS_URL')
      // Loaded only when chosen: the default start does not pay for the Redis client.
      const { redisBackend } = await import('./redis-state.js')
      return await redisBackend({ ...opts.redis, ...log }, opts.clock)
    }
  }
}
