// Owns the audit log format: one structured pino line per security event, with an allow-list of fields.
import type { BaseLogger } from 'pino'

/** Security events, dotted `area.what`; dashboards and alerts match on these names, so they are stable. */
export type AuditEvent =
  | 'token.issued' // an access token was signed (token endpoint)
  | 'token.refused' // the token endpoint refused a request, or a guard refused an access token
  | 'token.revoked' // a token was revoked (RFC 7009)
  | 'token.refresh_reused' // a used refresh token came back: it leaked, its whole family is revoked
  | 'client.auth_failed' // client authentication failed (unknown client, wrong secret, disabled: alike)
  | 'client.locked_out' // repeated failures: a source (or every source new to the client id) is refused for a while
  | 'rate.limited' // a request exceeded a rate limit
  | 'keys.rotated' // the signing key changed (a rotation was picked up)
  | 'keys.reloaded' // the published key set changed without a new signing key
  | 'keys.emergency' // a key vanished before its retention ended: an emergency removal

/**
 * The only fields an audit line may carry. Anything else passed at run time is dropped, so a caller cannot
 * put a token, a secret or key material on an audit line by accident; `kid` is a public thumbprint.
 */
export interface AuditFields {
  client_id?: string | undefined
  org?: string | undefined
  kid?: string | undefined
  /** A short machine label (`expired`, `invalid_client`, `locked_out`…). */
  reason?: string | undefined
  /** Human-readable, server-side only (never a credential). */
  detail?: string | undefined
  /** The request id; request.log already binds it as `reqId`, so pass it only for a logger without one. */
  reqId?: string | undefined
  grant_type?: string | undefined
  scope?: string | undefined
  jti?: string | undefined
  error?: string | undefined
  ip?: string | undefined
  retry_after_s?: number | undefined
  previous_kid?: string | undefined
  published?: string | undefined
  token_type_hint?: string | undefined
  /** The token's subject (the client id, or the external user for jwt-bearer). */
  sub?: string | undefined
  /** Whether a refresh token was issued alongside. */
  refresh?: boolean | undefined
}

const ALLOWED: ReadonlySet<string> = new Set<keyof AuditFields>(['client_id', 'org', 'kid', 'reason', 'detail', 'reqId', 'grant_type',
  'scope', 'jti', 'error', 'ip', 'retry_after_s', 'previous_kid', 'published', 'token_type_hint', 'sub', 'refresh'])

/** A JWS compact serialization or a PEM block: never logged, even inside an allowed field. */
const CREDENTIAL = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.|-----BEGIN [A-Z ]*PRIVATE KEY-----/

export type AuditLog = Pick<BaseLogger, 'info' | 'warn'>

/** Writes one audit line `{ audit: true, event, ...fields }` at info (warn for lockouts and emergencies). */
export function audit (log: AuditLog, event: AuditEvent, fields: AuditFields = {}): void {
  const line: Record<string, unknown> = { audit: true, event }
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || !ALLOWED.has(name)) continue
    line[name] = typeof value === 'string' && CREDENTIAL.test(value) ? '[Redacted]' : value
  }
  const level = event === 'keys.emergency' || event === 'client.locked_out' || event === 'token.refresh_reused' ? 'warn' : 'info'
  log[level](line, event)
}
