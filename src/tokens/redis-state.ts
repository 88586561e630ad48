// Owns the Redis token-state backend (STATE_STORE=redis): the state.ts contracts on one Redis shared by every
// instance, each multi-step operation one Lua script (redis-scripts.ts), the deny-list read from a local copy.
import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import { closeRedis, connectRedis, isRedisUnavailable, redisCall, RedisCalls } from '../shared/redis.js'
import { RedisUnavailable } from '../shared/errors.js'
import type { Log } from '../shared/log.js'
import { RedisDenyList } from './redis-deny-list.js'
import { StateKeys, defineStateScripts } from './redis-scripts.js'
import type { FailureCount, FamilyAccessToken, LockoutStore, RefreshFamilies, RefreshRecord, TokenStateBackend, UsedAssertions } from './state.js'

export interface RedisStateOptions {
  url: string
  /** Longest wait for the connection and for each command (ms). */
  timeoutMs: number
  /** Prefix of every key and channel: several deployments (or tests) can share one Redis. */
  prefix?: string
  /**
   * Another Redis for the rate-limit counters only (REDIS_RATE_LIMIT_URL). Counters need no durability, and on a
   * Redis with `appendfsync always` their writes would wait for the disk on every token request.
   */
  rateLimitUrl?: string
  log?: Pick<Log, 'warn' | 'info'>
}

/** Known (client, source) pairs are remembered this long after their first success (ms). */
const KNOWN_PAIR_MS = 30 * 24 * 3600_000

class RedisRefreshFamilies implements RefreshFamilies {
  readonly client: Redis
  readonly keys: StateKeys
  readonly denyList: RedisDenyList
  readonly clock: () => number
  readonly run: RedisCalls['run']

  constructor (client: Redis, run: RedisCalls['run'], keys: StateKeys, denyList: RedisDenyList, clock: () => number) {
    this.client = client
    this.run = run
    this.keys = keys
    this.denyList = denyList
    this.clock = clock
  }

  async get (hash: string): Promise<RefreshRecord | undefined> {
    const [json, used] = await this.run(async () => await this.client.hmget(this.keys.refresh(hash), 'r', 'u'))
    if (json === null || json === undefined) return undefined
    return { ...(JSON.parse(json) as Omit<RefreshRecord, 'used'>), used: used === '1' }
  }

  async put (record: RefreshRecord): Promise<void> {
    const { used, ...rest } = record
    await this.run(async () => await this.client.geotokenRefreshPut(this.keys.refresh(record.hash), this.keys.family(record.familyId),
      JSON.stringify(rest), used ? '1' : '0', record.familyExpiresAtMs))
  }

  async markUsed (hash: string): Promise<boolean> {
    return await this.run(async () => await this.client.geotokenRefreshMarkUsed(this.keys.refresh(hash))) === 1
  }

  async addAccessToken (familyId: string, jti: string, expiresAtMs: number): Promise<boolean> {
    const recorded = await this.run(async () => await this.client.geotokenFamilyAddAccessToken(this.keys.family(familyId), this.keys.familyAccessTokens(familyId),
      this.keys.deny, jti, expiresAtMs, this.clock(), this.keys.denyChannel)) === 1
    // Denied instead (the script announced it to every other instance): refused here at once, too.
    if (!recorded && expiresAtMs > this.clock()) this.denyList.addLocally([[jti, expiresAtMs]])
    return recorded
  }

  async revokeFamily (familyId: string): Promise<FamilyAccessToken[]> {
    const flat = await this.run(async () => await this.client.geotokenFamilyRevoke(this.keys.family(familyId), this.keys.familyAccessTokens(familyId),
      this.keys.deny, this.clock(), this.keys.denyChannel))
    const live: FamilyAccessToken[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) live.push({ jti: flat[i] as string, expiresAtMs: Number(flat[i + 1]) })
    this.denyList.addLocally(live.map(t => [t.jti, t.expiresAtMs] as const))
    return live
  }

  async isFamilyRevoked (familyId: string): Promise<boolean> {
    return await this.run(async () => await this.client.hget(this.keys.family(familyId), 'revoked')) === '1'
  }
}

class RedisUsedAssertions implements UsedAssertions {
  readonly client: Redis
  readonly keys: StateKeys
  readonly clock: () => number
  readonly run: RedisCalls['run']

  constructor (client: Redis, run: RedisCalls['run'], keys: StateKeys, clock: () => number) {
    this.client = client
    this.run = run
    this.keys = keys
    this.clock = clock
  }

  async add (id: string, expiresAtMs: number): Promise<boolean> {
    if (expiresAtMs <= this.clock()) return true
    // SET NX: of concurrent exchanges on any instance exactly one finds the id absent.
    return await this.run(async () => await this.client.set(this.keys.assertion(id), '1', 'PXAT', expiresAtMs, 'NX')) === 'OK'
  }
}

/** At most this many keys are remembered as having no failures (the least recently added is forgotten first). */
const CLEAN_KEYS_MAX = 20_000

class RedisLockouts implements LockoutStore {
  readonly #knownHere = new Map<string, number>()
  /**
   * Failure keys this instance read as absent, while it follows the failure channel: every failure counted on any
   * instance is announced there (the counting script publishes it), and removes its key from here. So the token
   * endpoint's lockout check costs no Redis read for a pair that never failed, and a failure elsewhere is seen as
   * soon as its announcement arrives. Emptied whenever the subscriber disconnects (announcements may be lost).
   */
  readonly #clean = new Set<string>()
  #following = false
  /** Moves on every announcement and (re)subscription: a read that raced one is not remembered as clean. */
  #generation = 0
  readonly #subscriber: Redis
  readonly #calls: RedisCalls
  readonly client: Redis
  readonly keys: StateKeys
  readonly run: RedisCalls['run']

  constructor (client: Redis, subscriber: Redis, calls: RedisCalls, keys: StateKeys) {
    this.client = client
    this.#calls = calls
    this.run = calls.run
    this.keys = keys
    subscriber.on('message', (channel: string, key: string) => {
      if (channel !== keys.failureChannel) return
      this.#generation++
      this.#clean.delete(key)
    })
    this.#subscriber = subscriber
    // Not following: every check reads Redis until the next 'ready'.
    subscriber.on('ready', () => { this.start().catch(() => {}) })
    subscriber.on('close', () => {
      this.#following = false
      this.#generation++
      this.#clean.clear()
    })
  }

  /** Subscribes to the failure announcements; until then (and whenever the subscriber is down) checks read Redis. */
  async start (): Promise<void> {
    await redisCall(async () => await this.#subscriber.subscribe(this.keys.failureChannel))
    this.#generation++
    this.#following = this.#subscriber.status === 'ready'
  }

  async addFailure (key: string, nowMs: number, forgetMs: number): Promise<number> {
    const redisKey = this.keys.failures(key)
    this.#clean.delete(redisKey)
    this.#generation++
    return await this.run(async () => await this.client.geotokenLockoutAddFailure(redisKey, nowMs, forgetMs, this.keys.failureChannel))
  }

  /**
   * Whether a remembered "no failures" may answer: only while the instance follows the announcements and Redis
   * answers. With the circuit open (a call failed for want of Redis) the check fails as every other call does (the
   * token endpoint answers 503), instead of letting wrong secrets through uncounted; what was remembered is dropped.
   */
  #trusted (): boolean {
    if (this.#calls.failing === undefined && this.client.status === 'ready') return this.#following
    this.#clean.clear()
    return false
  }

  async failures (key: string, nowMs: number, forgetMs: number): Promise<FailureCount | undefined> {
    const redisKey = this.keys.failures(key)
    if (this.#trusted() && this.#clean.has(redisKey)) return undefined
    const generation = this.#generation
    const [count, last] = await this.run(async () => await this.client.hmget(redisKey, 'c', 'l'))
    if (count === null || count === undefined || last === null || last === undefined) {
      if (this.#following && generation === this.#generation) {
        this.#clean.add(redisKey)
        if (this.#clean.size > CLEAN_KEYS_MAX) this.#clean.delete(this.#clean.values().next().value as string)
      }
      return undefined
    }
    const entry = { count: Number(count), lastMs: Number(last) }
    return nowMs - entry.lastMs > forgetMs ? undefined : entry
  }

  async clearFailures (key: string): Promise<void> { await this.run(async () => await this.client.del(this.keys.failures(key))) }

  // NX: a pair already known is not written again, so a successful authentication costs Redis (and its
  // append-only file) no write; a pair is forgotten KNOWN_PAIR_MS after it was first seen, and learnt again at its next success.
  async addKnown (key: string): Promise<void> {
    if ((this.#knownHere.get(key) ?? 0) > Date.now()) return
    await this.run(async () => await this.client.set(this.keys.known(key), '1', 'PX', KNOWN_PAIR_MS, 'NX'))
  }

  // A pair once known stays known (until KNOWN_PAIR_MS), so a yes is remembered here for an hour: the token
  // endpoint asks on every request, and a no is always asked again (another instance may have learnt the pair).
  async isKnown (key: string): Promise<boolean> {
    const now = Date.now()
    if ((this.#knownHere.get(key) ?? 0) > now) return true
    const known = await this.run(async () => await this.client.exists(this.keys.known(key))) === 1
    if (known) {
      this.#knownHere.delete(key)
      this.#knownHere.set(key, now + 3600_000)
      if (this.#knownHere.size > 20_000) this.#knownHere.delete(this.#knownHere.keys().next().value as string)
    }
    return known
  }
}

type StoreCallback = (err: Error | null, result?: { current: number, ttl: number }) => void
interface PluginStore {
  incr: (key: string, cb: StoreCallback, timeWindow: number, max: number) => void
  read: (key: string, cb: StoreCallback, timeWindow: number, max: number) => void
  child: (routeOptions: Parameters<FastifyRateLimitStore['child']>[0]) => PluginStore
}
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key?: string) => PluginStore
// The plugin's own Redis store (its Lua counter), which it does not export as a typed module.
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor

/**
 * @fastify/rate-limit's Redis store, as its `redis` option would build it, with one change: a Redis that is down
 * or slow fails the request with APP_REDIS_UNAVAILABLE (503 temporarily_unavailable), not an untyped error (500).
 */
function sharedRateLimitStore (client: Redis, calls: RedisCalls, nameSpace: string): FastifyRateLimitStoreCtor {
  const typed = (cb: StoreCallback): StoreCallback => (err, result) => {
    if (err === null || !isRedisUnavailable(err)) { cb(err, result); return }
    const unavailable = new RedisUnavailable(err.message, { cause: err })
    calls.failed(unavailable)
    cb(unavailable)
  }
  // The same circuit breaker as every other call (RedisCalls): while open, no counter waits out the timeout.
  const guarded = (cb: StoreCallback, call: () => void): void => {
    try { calls.throwIfOpen() } catch (err) { cb(err as Error); return }
    call()
  }
  const wrap = (inner: PluginStore): FastifyRateLimitStore & Pick<PluginStore, 'read'> => ({
    incr: (key, cb, timeWindow, max) => { guarded(cb, () => { inner.incr(key, typed(cb), timeWindow, max) }) },
    read: (key, cb, timeWindow, max) => { guarded(cb, () => { inner.read(key, typed(cb), timeWindow, max) }) },
    child: routeOptions => wrap(inner.child(routeOptions))
  })
  return class SharedRateLimitStore {
    constructor (options: FastifyRateLimitOptions) {
      // The plugin passes its resolved global settings, as it does to its own store.
      const params = options as { continueExceeding?: boolean, exponentialBackoff?: boolean }
      return wrap(new RedisStore(params.continueExceeding ?? false, params.exponentialBackoff ?? false, client, nameSpace))
    }
  } as unknown as FastifyRateLimitStoreCtor
}

/** Token state on Redis as one instance sees it: its readiness reports whether the deny-list copy follows Redis. */
export interface RedisTokenStateBackend extends TokenStateBackend {
  status: () => string
}

/**
 * Connects (two connections: commands, and the deny-list subscriber), loads the deny-list copy, and only then
 * resolves: an instance that cannot load the list would accept revoked tokens, so it does not start
 * (APP_REDIS_UNAVAILABLE after `timeoutMs`).
 */
export async function redisBackend (opts: RedisStateOptions, clock: () => number): Promise<RedisTokenStateBackend> {
  const keys = new StateKeys(opts.prefix ?? 'geotoken:state:')
  const log = opts.log === undefined ? {} : { log: opts.log }
  const command = connectRedis(opts.url, { timeoutMs: opts.timeoutMs, name: 'geotoken:state', ...log })
  const subscription = connectRedis(opts.url, { timeoutMs: opts.timeoutMs, name: 'geotoken:state:deny', ...log })
  const counting = opts.rateLimitUrl === undefined || opts.rateLimitUrl === '' || opts.rateLimitUrl === opts.url
    ? undefined
    : connectRedis(opts.rateLimitUrl, { timeoutMs: opts.timeoutMs, name: 'geotoken:rate-limits', ...log })
  const client = command.client
  const counters = counting?.client ?? client
  defineStateScripts(client)
  const calls = new RedisCalls(async () => await client.ping(), clock)
  const counterCalls = counting === undefined ? calls : new RedisCalls(async () => await counters.ping(), clock)
  const revoked = new RedisDenyList(client, subscription.client, calls.run, keys, clock, opts.log)
  const lockouts = new RedisLockouts(client, subscription.client, calls, keys)
  const close = async (): Promise<void> => {
    revoked.close()
    calls.close()
    counterCalls.close()
    await Promise.all([closeRedis(client), closeRedis(subscription.client), ...(counting === undefined ? [] : [closeRedis(counting.client)])])
  }
  try {
    await Promise.all([command.ready, subscription.ready, counting?.ready])
    await Promise.all([revoked.start(), lockouts.start()])
  } catch (err) {
    await close()
    throw err
  }
  const failing = (redis: Redis, tracked: RedisCalls): string | undefined => redis.status !== 'ready' ? 'no connection' : tracked.failing
  return {
    kind: 'redis',
    revoked,
    refreshFamilies: new RedisRefreshFamilies(client, calls.run, keys, revoked, clock),
    usedAssertions: new RedisUsedAssertions(client, calls.run, keys, clock),
    lockouts,
    rateLimits: { store: sharedRateLimitStore(counters, counterCalls, `${keys.prefix}rl:`) },
    status: () => {
      const copy = revoked.status()
      const state = failing(client, calls)
      const rates = counting === undefined ? undefined : failing(counters, counterCalls)
      if (state === undefined && rates === undefined) return copy
      const why = [state === undefined ? [] : [`Redis unavailable: ${state}`], rates === undefined ? [] : [`rate-limit Redis unavailable: ${rates}`]].flat().join('; ')
      return `degraded: ${why}; the token and revocation endpoints answer 503, guarded routes and access-token introspection verify from the local copy; ${copy === 'ok' ? 'the deny-list copy follows Redis' : copy.replace(/^degraded: /, '')}`
    },
    close
  }
}
