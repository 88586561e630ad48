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
  log?: Pick<Log, 'warn'>
}

/** Opens the backend STATE_STORE names; each value is one case here. */
export async function openTokenStateBackend (opts: OpenBackendOptions): Promise<TokenStateBackend> {
  switch (opts.store) {
    case 'embedded': return openSqliteBackend({ file: join(opts.dataDir, TOKEN_STATE_FILE), clock: opts.clock, ...(opts.log === undefined ? {} : { log: opts.log }) })
    case 'memory': return memoryBackend(opts.clock)
  }
}
