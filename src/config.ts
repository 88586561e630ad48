// Owns the service configuration: one schema, read from the environment once at start-up.
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { ConfigInvalid } from './errors.js'

export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'interface to listen on' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'TCP port' }),
  ISSUER: Type.String({ default: '', pattern: '^(https?://[^\\s?#]+[^/\\s?#])?$', description: 'public base URL, exactly the `iss` of every token: http(s)://host[:port][/path], no trailing slash (default http://HOST:PORT)' }),
  AUDIENCE: Type.String({ default: '', description: '`aud` of access tokens (default ISSUER + /features)' }),
  KEYS_DIR: Type.String({ default: 'keys', minLength: 1, description: 'directory holding keyring.json' }),
  DATA_DIR: Type.String({ default: 'data', minLength: 1, description: 'directory holding clients.json and feature data' }),
  SEED_FILE: Type.String({ default: 'data/seed.geojson', description: 'GeoJSON loaded into an empty feature store on first start ("" for none)' }),
  KEY_SIZE: Type.Enum([2048, 3072, 4096], { default: 2048, description: 'RSA modulus bits for new keys' }),
  ACCESS_TOKEN_TTL_S: Type.Integer({ minimum: 60, maximum: 86400, default: 900, description: 'access token lifetime (s)' }),
  CLOCK_TOLERANCE_S: Type.Integer({ minimum: 0, maximum: 300, default: 30, description: 'allowed clock skew on exp/nbf/iat (s)' }),
  JWKS_MAX_AGE_S: Type.Integer({ minimum: 0, maximum: 86400, default: 300, description: 'Cache-Control max-age of the JWKS (s); a next key is published this long (+ tolerance) before it signs' }),
  RELOAD_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 5000, default: 1000, description: 'how often keyring.json and clients.json are checked for changes (ms)' }),
  DEMO_CLIENTS: Type.Boolean({ default: true, description: 'on first start, create demo orgs acme and globex with one client each' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'pino log level' })
})

type RawConfig = Static<typeof ConfigSchema>
export type Config = Readonly<RawConfig>

/** Validates the environment once; a bad value throws APP_CONFIG_INVALID naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined>): Config {
  // An empty variable means "unset", except for text settings where "" is a meaningful value (SEED_FILE="").
  const isText = (k: string): boolean => (ConfigSchema.properties as Record<string, { type?: string }>)[k]?.type === 'string'
  const known = Object.fromEntries(Object.keys(ConfigSchema.properties).flatMap(k => env[k] === undefined || (env[k] === '' && !isText(k)) ? [] : [[k, env[k]]]))
  const value = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, Value.Clean(ConfigSchema, { ...known })))
  if (!Value.Check(ConfigSchema, value)) {
    const problems = [...Value.Errors(ConfigSchema, value)].map(e => {
      const name = e.instancePath.slice(1) || e.schemaPath
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues
      return `${name}=${JSON.stringify(known[name] ?? null)} ${allowed !== undefined ? `must be one of ${allowed.join(', ')}` : e.message}`
    })
    throw new ConfigInvalid([...new Set(problems)].join('; '))
  }
  const config = value as RawConfig
  const issuer = config.ISSUER || `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`
  return Object.freeze({ ...config, ISSUER: issuer, AUDIENCE: config.AUDIENCE || `${issuer}/features` })
}

/** How long a retired key stays published: the longest token it signed, clock skew, and the reload lag. */
export function retentionMs (config: Config): number {
  return (config.ACCESS_TOKEN_TTL_S + config.CLOCK_TOLERANCE_S) * 1000 + 2 * config.RELOAD_INTERVAL_MS
}

/** How long a next key must be published before it signs: every JWKS cache has then refreshed. */
export function minPublishMs (config: Config): number {
  return (config.JWKS_MAX_AGE_S + config.CLOCK_TOLERANCE_S) * 1000 + 2 * config.RELOAD_INTERVAL_MS
}

/** Markdown table of every variable, used by the README test to keep the docs true. */
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
