// Owns the Prometheus instruments: one prom-client Registry per app (never the global one), no Fastify here.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  readonly registry: Registry
  /** Seconds from request start to response end, by route pattern (never the raw URL), method and status. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>
  readonly tokensIssued: Counter<'grant_type' | 'org'>
  /** Access tokens a guard refused, by machine reason (`expired`, `bad_signature`, `unknown_kid`…). */
  readonly verificationFailures: Counter<'reason'>
  readonly tokenRequestsLimited: Counter<'limit'>
  readonly clientLockouts: Counter
}

/**
 * Builds the registry and the instruments of the HTTP layer and of the parts above ops. Default process metrics are
 * included: several apps in one test process each get their own registry. Other parts register their own instruments
 * in `registry` (the key ring's: src/keys/metrics.ts; the feature API's: src/features/metrics.ts).
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
    clientLockouts: new Counter({ name: 'geotoken_client_lockouts_total', help: 'Lockouts started by repeated failed authentication (a source for a client id, or new sources of a client id)', registers })
  }
}
