// Owns the service configuration: one schema, read from the environment once at start-up.
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { ConfigInvalid } from './shared/errors.js'
import { STATE_STORES } from './tokens/state.js'

export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'interface to listen on' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port' }),
  ISSUER: Type.String({ default: '', pattern: '^(https?://[^\\s?#]+[^/\\s?#])?$', accepts: 'an http(s) URL with no trailing slash, query or fragment, such as https://auth.example.com or http://localhost:3000 ("" means http://HOST:PORT)', description: 'public base URL, exactly the `iss` of every token: http(s)://host[:port][/path], no trailing slash (default http://HOST:PORT)' }),
  AUDIENCE: Type.String({ default: '', description: '`aud` of access tokens (default ISSUER + /features)' }),
  KEYS_DIR: Type.String({ default: 'keys', minLength: 1, description: 'directory holding keyring.json' }),
  DATA_DIR: Type.String({ default: 'data', minLength: 1, description: 'directory holding clients.json, the feature store and the token state (token-state.sqlite); one geotoken process per directory' }),
  SEED_FILE: Type.String({ default: 'data/seed.geojson', description: 'GeoJSON loaded into an empty feature store on first start ("" for none)' }),
  FEATURE_JOURNAL_MAX_MB: Type.Integer({ minimum: 1, maximum: 65536, default: 16, description: 'feature journal size (MiB) that starts a background compaction into a new snapshot (also every 10,000 writes); a start replays at most about this much journal' }),
  FEATURE_STORE: Type.Enum(['embedded', 'postgis'], { default: 'embedded', description: 'where features live: `embedded` (DATA_DIR/features, one process) or `postgis` (existing tables, DATABASE_URL and FEATURE_COLLECTIONS_FILE; docs/postgis.md)' }),
  DATABASE_URL: Type.String({ default: '', accepts: 'a postgres:// URL, such as postgres://geotoken:secret@db.example.com:5432/gis', pattern: '^(postgres(ql)?://\\S+)?$', description: 'FEATURE_STORE=postgis: the database, as the role `npm run postgis-sql` prepares (no superuser, no BYPASSRLS, owns nothing)' }),
  FEATURE_COLLECTIONS_FILE: Type.String({ default: '', description: 'FEATURE_STORE=postgis: JSON file mapping each collection to a table (docs/postgis.md)' }),
  DATABASE_POOL_MAX: Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'FEATURE_STORE=postgis: database connections at most, DATABASE_SHARED_CONNECTIONS included; more concurrent requests wait for one' }),
  DATABASE_SHARED_CONNECTIONS: Type.Integer({ minimum: 0, maximum: 999, default: 3, description: 'FEATURE_STORE=postgis: how many of the DATABASE_POOL_MAX connections carry the one-statement reads (a bbox page, a feature) of many requests at once, pipelined (docs/postgis.md#connections); at most DATABASE_POOL_MAX - 1; 0 = every read takes a pooled connection of its own' }),
  DATABASE_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 5000, description: 'FEATURE_STORE=postgis: statement_timeout, and the longest wait for a pooled connection (ms); then 503 with Retry-After' }),
  KEY_SIZE: Type.Enum([2048, 3072, 4096], { default: 2048, description: 'RSA modulus bits for new keys' }),
  ACCESS_TOKEN_TTL_S: Type.Integer({ minimum: 60, maximum: 86400, default: 900, description: 'access token lifetime (s)' }),
  CLOCK_TOLERANCE_S: Type.Integer({ minimum: 0, maximum: 300, default: 30, description: 'allowed clock skew on exp/nbf/iat (s)' }),
  JWKS_MAX_AGE_S: Type.Integer({ minimum: 0, maximum: 86400, default: 300, description: 'Cache-Control max-age of the JWKS (s); a next key is published this long (+ tolerance) before it signs' }),
  RELOAD_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 5000, default: 1000, description: 'how often keyring.json and clients.json are checked for changes (ms)' }),
  TRUSTED_ISSUERS_FILE: Type.String({ default: '', description: 'JSON file of external identity providers whose assertions the jwt-bearer grant accepts ("" for none); see docs/federation.md' }),
  REFRESH_TOKEN_IDLE_S: Type.Integer({ minimum: 60, maximum: 31536000, default: 86400, description: 'a refresh token unused this long expires (s)' }),
  REFRESH_TOKEN_ABSOLUTE_S: Type.Integer({ minimum: 60, maximum: 31536000, default: 2592000, description: 'no refresh token outlives its first grant by more than this (s)' }),
  DEMO_CLIENTS: Type.Boolean({ default: true, description: 'on first start, create demo orgs acme and globex with one client each (their secrets go to DATA_DIR/demo-credentials.json, mode 0600)' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level' }),
  TRUST_PROXY: Type.String({ default: '', accepts: 'comma-separated IP addresses or CIDR ranges (such as 10.0.0.0/8, 192.168.1.10) or the words loopback, linklocal, uniquelocal; "" trusts no proxy', pattern: '^((loopback|linklocal|uniquelocal|[0-9A-Fa-f.:]+(/[0-9]{1,3})?)( *, *(loopback|linklocal|uniquelocal|[0-9A-Fa-f.:]+(/[0-9]{1,3})?))*)?$', description: 'addresses or CIDRs of the reverse proxies whose X-Forwarded-For is believed, comma-separated (also loopback, linklocal, uniquelocal); "" trusts none, so the client IP is the TCP peer' }),
  CORS_ORIGINS: Type.String({ default: '', accepts: 'comma-separated origins, each a scheme and host[:port] with no path or trailing slash (such as https://map.example.com, http://localhost:5173); "" allows none', pattern: '^(https?://[^\\s,/]+( *, *https?://[^\\s,/]+)*)?$', description: 'browser origins allowed to call the feature API, comma-separated (e.g. https://map.example.com); "" allows none. JWKS and metadata are readable from any origin' }),
  METRICS_TOKEN: Type.String({ default: '', accepts: '16 or more visible ASCII characters (no spaces), such as the output of openssl rand -hex 24; "" disables /metrics', pattern: '^([!-~]{16,})?$', description: 'bearer token Prometheus presents at GET /metrics (16+ visible ASCII characters); "" disables /metrics (404)' }),
  TOKEN_RATE_PER_IP: Type.Integer({ minimum: 1, maximum: 1000000, default: 300, description: 'requests to /oauth/token, /oauth/revoke and unauthenticated /oauth/introspect allowed per client IP per TOKEN_RATE_WINDOW_S; then 429' }),
  TOKEN_RATE_PER_CLIENT: Type.Integer({ minimum: 1, maximum: 1000000, default: 60, description: 'authenticated /oauth/token and /oauth/revoke requests allowed per client per TOKEN_RATE_WINDOW_S; then 429' }),
  TOKEN_RATE_INTROSPECT_PER_CLIENT: Type.Integer({ minimum: 1, maximum: 10000000, default: 6000, description: 'authenticated /oauth/introspect requests allowed per client per TOKEN_RATE_WINDOW_S (a resource server may introspect every request); then 429' }),
  TOKEN_RATE_WINDOW_S: Type.Integer({ minimum: 1, maximum: 86400, default: 60, description: 'window of the token endpoint rate limits (s)' }),
  AUTH_LOCKOUT_AFTER: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'consecutive failed client authentications from one IP for one client_id before that IP is locked out for that client_id' }),
  AUTH_LOCKOUT_CLIENT_AFTER: Type.Integer({ minimum: 1, maximum: 100000, default: 50, description: 'failed authentications for one client_id from all IPs before IPs it never authenticated from are locked out for it too' }),
  AUTH_LOCKOUT_BASE_S: Type.Integer({ minimum: 1, maximum: 3600, default: 1, description: 'first lockout (s); it doubles with every further failure' }),
  AUTH_LOCKOUT_MAX_S: Type.Integer({ minimum: 1, maximum: 86400, default: 300, description: 'longest lockout (s)' }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 1000, description: 'answer 503 while the mean event-loop delay exceeds this (ms); 0 = off' }),
  OVERLOAD_MAX_HEAP_USED_MB: Type.Integer({ minimum: 0, maximum: 1048576, default: 0, description: 'answer 503 while the V8 heap in use exceeds this (MiB); 0 = off' }),
  OVERLOAD_RETRY_AFTER_S: Type.Integer({ minimum: 1, maximum: 3600, default: 10, description: 'Retry-After of overload and shutdown 503 answers (s)' }),
  STATE_STORE: Type.Enum(STATE_STORES, { default: 'embedded', description: 'where token state lives (revocations, refresh tokens, used assertion ids; with redis also lockout counts and rate-limit counters): embedded = DATA_DIR/token-state.sqlite (SQLite, each change on disk before it is answered; this instance only); memory = this process only, forgotten on restart (tests, benchmarks); redis = shared by every instance, at REDIS_URL (see docs/redis.md). With redis the key ring and the client registry live there too (no shared volume; needs a key-encryption key), instead of KEYS_DIR and DATA_DIR' }),
  REDIS_URL: Type.String({ default: '', accepts: 'a redis:// or rediss:// URL such as redis://127.0.0.1:6379 or rediss://:password@redis.internal:6380/0 ("" when STATE_STORE is not redis)', pattern: '^(rediss?://\\S+)?$', description: 'Redis for STATE_STORE=redis: redis[s]://[[user]:password@]host[:port][/db]; required with it. Never logged (it may hold a password)' }),
  REDIS_RATE_LIMIT_URL: Type.String({ default: '', accepts: 'a redis:// or rediss:// URL such as redis://127.0.0.1:6380 ("" uses REDIS_URL)', pattern: '^(rediss?://\\S+)?$', description: 'with STATE_STORE=redis, another Redis for the token endpoint\'s rate-limit counters only ("" = REDIS_URL): counters need no persistence, so that Redis may run without appendfsync always and the token endpoint does not wait for its disk. Never logged' }),
  REDIS_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60000, default: 500, description: 'longest wait for a Redis connection or command (ms); past it the request answers 503 temporarily_unavailable, never hangs' }),
  KEY_ENCRYPTION_KEY: Type.String({ default: '', pattern: '^(([A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43})( *, *([A-Za-z0-9+/]{43}=|[A-Za-z0-9_-]{43}))*)?$', accepts: '32 random bytes in base64, such as the output of openssl rand -base64 32 (during a KEK rotation: the new key, a comma, the old one)', description: 'STATE_STORE=redis: the key-encryption key (32 bytes, base64) sealing the private keys stored in Redis; during a KEK rotation NEW,OLD (the first seals, the others only open); or use KEY_ENCRYPTION_KEY_FILE. Never logged' }),
  KEY_ENCRYPTION_KEY_FILE: Type.String({ default: '', description: 'STATE_STORE=redis: a file holding the key-encryption key (32 bytes, base64; during a KEK rotation one per line, the new one first), instead of KEY_ENCRYPTION_KEY' }),
  SHUTDOWN_TIMEOUT_S: Type.Integer({ minimum: 1, maximum: 3600, default: 25, description: 'on SIGTERM/SIGINT, how long in-flight requests may take before the process exits 1 anyway (s)' })
})

const SECRET_VARIABLES = new Set(['METRICS_TOKEN', 'KEY_ENCRYPTION_KEY', 'REDIS_URL', 'REDIS_RATE_LIMIT_URL', 'DATABASE_URL'])

type RawConfig = Static<typeof ConfigSchema>

interface VariableSchema { type?: string, minimum?: number, maximum?: number, enum?: unknown[], anyOf?: Array<{ const: unknown }>, minLength?: number, accepts?: string }

/** What a variable accepts, in words: read from its schema, so a raw pattern never reaches an operator. */
function accepted (name: string): string {
  const schema = (ConfigSchema.properties as Record<string, VariableSchema | undefined>)[name]
  if (schema === undefined) return 'a known setting'
  const choices = schema.enum ?? schema.anyOf?.map(a => a.const)
  if (choices !== undefined) return `one of ${choices.join(', ')}`
  if (schema.type === 'integer') return `a whole number from ${schema.minimum ?? 0} to ${schema.maximum ?? Number.MAX_SAFE_INTEGER}`
  if (schema.type === 'boolean') return 'true or false'
  if (schema.accepts !== undefined) return schema.accepts
  return schema.minLength !== undefined ? 'a non-empty text' : 'a text (see docs/configuration.md)'
}
export type Config = Readonly<RawConfig>

/** Validates the environment once; a bad value throws APP_CONFIG_INVALID naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", except for text settings where "" is a meaningful value (SEED_FILE="").
  const isText = (k: string): boolean => (ConfigSchema.properties as Record<string, { type?: string }>)[k]?.type === 'string'
  const known = Object.fromEntries(Object.keys(ConfigSchema.properties).flatMap(k => env[k] === undefined || (env[k] === '' && !isText(k)) ? [] : [[k, env[k]]]))
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, Value.Clean(ConfigSchema, { ...known })))
  if (!Value.Check(ConfigSchema, value)) {
    const names = [...new Set([...Value.Errors(ConfigSchema, value)].map(e => e.instancePath.slice(1) || e.schemaPath))]
    throw new ConfigInvalid(names.map(name => {
      // A secret is named, never echoed: this message reaches the logs.
      const shown = SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(known[name] ?? null)
      return `${name}=${shown} is not accepted: it must be ${accepted(name)}.`
    }).join(' '))
  }
  const config = value as RawConfig
  const missing = stateStoreProblems(config)
  if (config.FEATURE_STORE === 'postgis') {
    const unset = (['DATABASE_URL', 'FEATURE_COLLECTIONS_FILE'] as const).filter(k => config[k] === '')
    if (unset.length > 0) missing.push(`FEATURE_STORE=postgis needs ${unset.join(' and ')}.`)
  }
  if (missing.length > 0) throw new ConfigInvalid(missing.join(' '))
  const issuer = config.ISSUER || `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`
  return Object.freeze({ ...config, ISSUER: issuer, AUDIENCE: config.AUDIENCE || `${issuer}/features` })
}

/** What STATE_STORE=redis needs besides itself: a server, and exactly one source of the key-encryption key. */
function stateStoreProblems (config: RawConfig): string[] {
  if (config.STATE_STORE !== 'redis') return []
  const problems: string[] = []
  if (config.REDIS_URL === '') problems.push('STATE_STORE=redis needs REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379).')
  const keks = [config.KEY_ENCRYPTION_KEY, config.KEY_ENCRYPTION_KEY_FILE].filter(v => v !== '').length
  if (keks === 0) problems.push('STATE_STORE=redis needs a key-encryption key: KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE (make one with openssl rand -base64 32).')
  if (keks === 2) problems.push('KEY_ENCRYPTION_KEY and KEY_ENCRYPTION_KEY_FILE are both set: set only one.')
  return problems
}

/** How long a retired key stays published: the longest token it signed, clock skew, and the reload lag. */
export function retentionMs (config: Config): number {
  return (config.ACCESS_TOKEN_TTL_S + config.CLOCK_TOLERANCE_S) * 1000 + 2 * config.RELOAD_INTERVAL_MS
}

/** How long a next key must be published before it signs: every JWKS cache has then refreshed. */
export function minPublishMs (config: Config): number {
  return (config.JWKS_MAX_AGE_S + config.CLOCK_TOLERANCE_S) * 1000 + 2 * config.RELOAD_INTERVAL_MS
}

/** Markdown table of every variable: docs/configuration.md holds it, and test/config.test.ts keeps the two identical. */
export function configTable (): string {
  const rows = Object.entries(ConfigSchema.properties).map(([name, s]) => {
    const schema = s as { default?: unknown, description?: string, minimum?: number, maximum?: number, enum?: unknown[], anyOf?: Array<{ const: unknown }>, type?: string }
    const choices = schema.enum ?? schema.anyOf?.map(a => a.const)
    const allowed = choices !== undefined ? choices.join(', ')
      : schema.minimum !== undefined ? `${schema.minimum}–${schema.maximum ?? '∞'}`
        : schema.type === 'boolean' ? 'true, false' : 'text'
    return `| \`${name}\` | \`${JSON.stringify(schema.default)}\` | ${allowed} | ${schema.description ?? ''} |`
  })
  return ['| variable | default | allowed | meaning |', '|---|---|---|---|', ...rows].join('\n')
}
