// Owns the readiness contract: how a part of the service tells GET /ready whether it can serve (ops/health.ts serves it).

/** 'ok' when the part can serve; anything else says why not, and is shown in /ready's `checks`. Runs per /ready call. */
export type ReadinessCheck = () => string

/** Where each part registers its check once, at start-up (the key ring, the client registry, the feature store). */
export interface Readiness {
  add (name: string, check: ReadinessCheck): void
}
