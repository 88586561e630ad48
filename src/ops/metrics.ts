// Owns the Prometheus instruments: one prom-client Registry per app (never the global one), no Fastify here.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  readonly registry: Registry
  /** Seconds from request start to response end, by route pattern (never the raw URL), method and status. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>
  readonly tokensIssued: Counter<'grant_type' | 'org'>
  /** Access tokens a guard refused, by machine reason (`expired`, `bad_signature`, `unknown_kid`…). */
  readonly verificationFailures: Counter<'reason'>
  readonly tokenRequestsLimited: Counter<'limit'>
  readonly clientLockouts: Counter
  /** Answered (2xx/304) feature reads and writes: the collection exists, so the label set stays small. */
  readonly featureQueries: Counter<'collection'>
  readonly featureWrites: Counter<'collection' | 'operation'>
  /** Feature writes answered 503: the append `failed` (and was cut back), or the store was `fenced`. */
  readonly featureWritesRefused: Counter<'reason'>
  readonly featureCompactionFailures: Counter
  /** 1 while the feature store refuses every write (a failed append it could not cut back). */
  readonly featureStoreFenced: Gauge
}

const WRITE_OPERATIONS: Readonly<Record<string, string>> = { POST: 'create', PUT: 'replace', PATCH: 'update', DELETE: 'delete' }

/**
 * Builds the registry and the instruments of the HTTP layer and of the parts above ops. Default process metrics are
 * included: several apps in one test process each get their own registry. Other parts register their own instruments
 * in `registry` (the key ring's: src/keys/metrics.ts).
 */
export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  return {
    registry,
    httpDuration: new Histogram({
      name: 'geotoken_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern, method and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers
    }),
    tokensIssued: new Counter({ name: 'geotoken_tokens_issued_total', help: 'Access tokens issued by grant type and organization', labelNames: ['grant_type', 'org'] as const, registers }),
    verificationFailures: new Counter({ name: 'geotoken_token_verification_failures_total', help: 'Access tokens refused by the guard, by reason', labelNames: ['reason'] as const, registers }),
    tokenRequestsLimited: new Counter({ name: 'geotoken_token_requests_limited_total', help: 'Token endpoint requests refused with 429, by limit (ip, client, introspect, lockout)', labelNames: ['limit'] as const, registers }),
    clientLockouts: new Counter({ name: 'geotoken_client_lockouts_total', help: 'Lockouts started by repeated failed authentication (a source for a client id, or new sources of a client id)', registers }),
    featureQueries: new Counter({ name: 'geotoken_feature_queries_total', help: 'Answered feature reads (items, item) by collection', labelNames: ['collection'] as const, registers }),
    featureWrites: new Counter({ name: 'geotoken_feature_writes_total', help: 'Answered feature writes by collection and operation', labelNames: ['collection', 'operation'] as const, registers }),
    featureWritesRefused: new Counter({ name: 'geotoken_feature_writes_refused_total', help: 'Feature writes answered 503 by the store: failed (cut back) or fenced (writes refused)', labelNames: ['reason'] as const, registers }),
    featureCompactionFailures: new Counter({ name: 'geotoken_feature_compaction_failures_total', help: 'Failed background compactions of the feature store (each retried with back-off)', registers }),
    featureStoreFenced: new Gauge({ name: 'geotoken_feature_store_write_fenced', help: '1 while the feature store refuses every write, until a failed append is cut back', registers })
  }
}

/** Counts one answered feature request; refused ones (4xx/5xx) are visible in the HTTP histogram instead. */
export function countFeatureRequest (metrics: Metrics, method: string, collection: string | undefined, status: number): void {
  if (collection === undefined || status >= 400) return
  const operation = WRITE_OPERATIONS[method]
  if (operation !== undefined) metrics.featureWrites.inc({ collection, operation })
  else if (method === 'GET' || method === 'HEAD') metrics.featureQueries.inc({ collection })
}
