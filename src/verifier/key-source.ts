// Owns the seam between verification and where keys come from: the local ring in-process, a remote JWKS for consumers.

/** Where access-token verification keys come from (RS256 only: the algorithm is pinned, never the token's choice). */
export interface KeySource {
  /** PEM of the published key `kid`, or undefined when no such key is published. */
  publicKey: (kid: string) => Promise<string | undefined> | string | undefined
}

/**
 * The general form, for tokens whose issuer may sign with more than one algorithm (jwt-bearer assertions): the
 * PEM of key `kid` usable with `alg`, or undefined. Throws (APP_JWKS_UNAVAILABLE) only when no key can be had.
 */
export type KeyLookup = (kid: string, alg: string) => Promise<string | undefined> | string | undefined
