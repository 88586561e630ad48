// Owns the readiness contract: how a part of the service tells GET /ready whether it can serve (ops/health.ts serves it).

/**
 * 'ok' when the part can serve; a text starting with `degraded:` when it serves in part (the instance stays in the
 * balancer: /ready answers 200 with status 'degraded'); anything else says why it cannot, and /ready answers 503.
 * Shown in /ready's `checks`. Runs per /ready call.
 */
export type ReadinessCheck = () => string

/** True for a check result that keeps the instance ready, if degraded. */
export const servesInPart = (result: string): boolean => result.startsWith('degraded:')

/** Where each part registers its check once, at start-up (the key ring, the client registry, the feature store). */
export interface Readiness {
  add (name: string, check: ReadinessCheck): void
}
