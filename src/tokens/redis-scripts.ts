// Owns the Lua scripts that make each Redis token-state operation one atomic step (state.ts's contracts), and the
// key layout they work on. Redis runs a script without interleaving any other command, so two instances racing on
// one refresh token, one family or one assertion id are served one after the other.
import type { Redis, Result } from 'ioredis'

/**
 * Every key of one deployment, under one prefix. Scripts receive all of their keys in KEYS (never build one in Lua),
 * as Redis requires; no hash tags, so this layout is for a single Redis (with replicas), not Redis Cluster.
 */
export class StateKeys {
  readonly prefix: string
  constructor (prefix: string) { this.prefix = prefix }
  /** Sorted set: revoked jti -> expiry (ms). The durable deny-list every instance's local copy is loaded from. */
  get deny (): string { return `${this.prefix}deny` }
  /** Pub/sub channel: every deny-list addition, as JSON [[jti, expiryMs], ...], published by the script that adds it. */
  get denyChannel (): string { return `${this.prefix}deny:added` }
  refresh (hash: string): string { return `${this.prefix}rt:${hash}` }
  family (id: string): string { return `${this.prefix}fam:${id}` }
  familyAccessTokens (id: string): string { return `${this.prefix}fam:${id}:at` }
  assertion (id: string): string { return `${this.prefix}ua:${id}` }
  failures (key: string): string { return `${this.prefix}lf:${key}` }
  /** Pub/sub channel: the failures key of every failed authentication, published by the script that counts it. */
  get failureChannel (): string { return `${this.prefix}lf:added` }
  known (key: string): string { return `${this.prefix}lk:${key}` }
}

// KEYS: deny. ARGV: jti, expiresAtMs, nowMs, channel. Returns {1|0 (added|already), the expiry in force}.
const DENY_ADD = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if current then return {0, current} end
if tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('PUBLISH', ARGV[4], cjson.encode({{ARGV[1], ARGV[2]}}))
end
return {1, ARGV[2]}
`

// KEYS: token, family. ARGV: record JSON, used ('0'|'1'), familyExpiresAtMs. The family is created only if absent,
// so a rotation that lost a race with revokeFamily cannot revive it.
const REFRESH_PUT = `
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'u', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'revoked', '0')
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
return 1
`

// KEYS: token. Returns 1 for the one caller that spends it, 0 for every other (used, or unknown).
const REFRESH_MARK_USED = `
if redis.call('HGET', KEYS[1], 'u') ~= '0' then return 0 end
redis.call('HSET', KEYS[1], 'u', '1')
return 1
`

// KEYS: family, family access tokens, deny. ARGV: jti, expiresAtMs, nowMs, channel. 0 when the family is revoked or
// gone: then the token is denied (and announced) instead, as FAMILY_REVOKE denies the family's recorded ones.
const FAMILY_ADD_ACCESS_TOKEN = `
if redis.call('HGET', KEYS[1], 'revoked') ~= '0' then
  if tonumber(ARGV[2]) > tonumber(ARGV[3]) and not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
    redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
    redis.call('PUBLISH', ARGV[4], cjson.encode({{ARGV[1], ARGV[2]}}))
  end
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`

// KEYS: family, family access tokens, deny. ARGV: nowMs, channel. Revokes the family and denies (and announces)
// its live access tokens in the same step; returns them as a flat [jti, expiry, ...] list.
const FAMILY_REVOKE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('HSET', KEYS[1], 'revoked', '1')
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'WITHSCORES')
local added = {}
for i = 1, #live, 2 do
  redis.call('ZADD', KEYS[3], 'GT', live[i + 1], live[i])
  added[#added + 1] = {live[i], live[i + 1]}
end
if #added > 0 then redis.call('PUBLISH', ARGV[2], cjson.encode(added)) end
return live
`

// KEYS: failures. ARGV: nowMs, forgetMs, channel. A count quiet for more than forgetMs starts again at one.
const LOCKOUT_ADD_FAILURE = `
redis.call('PUBLISH', ARGV[3], KEYS[1])
local last = redis.call('HGET', KEYS[1], 'l')
if last and tonumber(ARGV[1]) - tonumber(last) > tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
local count = redis.call('HINCRBY', KEYS[1], 'c', 1)
redis.call('HSET', KEYS[1], 'l', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
return count
`

const SCRIPTS = {
  geotokenDenyAdd: { numberOfKeys: 1, lua: DENY_ADD },
  geotokenRefreshPut: { numberOfKeys: 2, lua: REFRESH_PUT },
  geotokenRefreshMarkUsed: { numberOfKeys: 1, lua: REFRESH_MARK_USED },
  geotokenFamilyAddAccessToken: { numberOfKeys: 3, lua: FAMILY_ADD_ACCESS_TOKEN },
  geotokenFamilyRevoke: { numberOfKeys: 3, lua: FAMILY_REVOKE },
  geotokenLockoutAddFailure: { numberOfKeys: 1, lua: LOCKOUT_ADD_FAILURE }
} as const

declare module 'ioredis' {
  interface RedisCommander<Context> {
    geotokenDenyAdd: (deny: string, jti: string, expiresAtMs: number, nowMs: number, channel: string) => Result<[number, string], Context>
    geotokenRefreshPut: (token: string, family: string, record: string, used: string, familyExpiresAtMs: number) => Result<number, Context>
    geotokenRefreshMarkUsed: (token: string) => Result<number, Context>
    geotokenFamilyAddAccessToken: (family: string, accessTokens: string, deny: string, jti: string, expiresAtMs: number, nowMs: number, channel: string) => Result<number, Context>
    geotokenFamilyRevoke: (family: string, accessTokens: string, deny: string, nowMs: number, channel: string) => Result<string[], Context>
    geotokenLockoutAddFailure: (failures: string, nowMs: number, forgetMs: number, channel: string) => Result<number, Context>
  }
}

/**
 * Defines the scripts on a client: ioredis sends EVALSHA and, after a Redis restart has emptied the script cache
 * (NOSCRIPT), the script itself, so a restart needs nothing from us.
 */
export function defineStateScripts (client: Redis): void {
  for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys, lua })
}

/** Parses a deny-list announcement; anything malformed is skipped (the next resynchronization has it anyway). */
export function parseDenied (message: string): Array<[string, number]> {
  let parsed: unknown
  try { parsed = JSON.parse(message) } catch { return [] }
  if (!Array.isArray(parsed)) return []
  return parsed.flatMap(entry => Array.isArray(entry) && typeof entry[0] === 'string' && Number.isFinite(Number(entry[1]))
    ? [[entry[0], Number(entry[1])] as [string, number]]
    : [])
}
