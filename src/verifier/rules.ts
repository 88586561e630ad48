// Owns the rules every geotoken access token must pass, shared by the in-process guard and remote consumers.
import type { AccessTokenClaims } from '../tokens/claims.js'
import { isKnownScopeList, isOrgName } from '../tokens/claims.js'
import { TokenRefused } from './refusal.js'

export interface VerificationRules {
  issuer: string
  audience: string
  clockToleranceS: number
  /** Longest lifetime (exp - iat) the issuer ever grants: a longer one was not minted by it. */
  maxLifetimeS: number
  /** In-process only: whether the registry knows the organization (a remote verifier cannot know the registry). */
  knownOrg?: (org: string) => boolean
}

export const REQUIRED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'org', 'scope'] as const

/**
 * Header parameters no token of ours may carry, whoever signed it: each would let the token name its own key
 * (jku, jwk, x5u, x5c: RFC 8725 §3.1, §3.10), demand processing we do not do (crit, RFC 7515 §4.1.11) or change
 * what is signed (b64, RFC 7797). The one list, for access tokens and jwt-bearer assertions alike.
 */
export const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'crit', 'b64'] as const

/** The public texts of header and library refusals: each kind of token speaks of itself (401 token, 400 assertion). */
export interface RefusalTexts {
  algorithm: string
  type: string
  header: string
  kid: string
  unknownKey: string
  expired: string
  invalid: string
}

/** What a token's header must be before any key is looked up, and the claims fast-jwt must find. */
export interface TokenProfile {
  /** Pinned by us, never taken from the token (RFC 8725 §3.1); one entry for access tokens. */
  algorithms: readonly string[]
  /** The required `typ` (RFC 8725 §3.11), compared without `application/` and case; undefined: not checked. */
  typ?: string
  maxKidLength: number
  requiredClaims: readonly string[]
  issuer: string
  /** `aud` must be, or contain, one of these. */
  audiences: readonly string[]
  clockToleranceS: number
  texts: RefusalTexts
}

export const ACCESS_TOKEN_TEXTS: RefusalTexts = {
  algorithm: 'token algorithm is not allowed',
  type: 'token is not an at+jwt access token',
  header: 'token header is not accepted',
  kid: 'token has no valid kid',
  unknownKey: 'token signing key is unknown',
  expired: 'token has expired',
  invalid: 'token is invalid'
}

/** An RFC 9068 access token of ours: RS256 only, typ at+jwt. */
export function accessTokenProfile (rules: VerificationRules): TokenProfile {
  return {
    algorithms: ['RS256'],
    typ: 'at+jwt',
    maxKidLength: 128,
    requiredClaims: REQUIRED_CLAIMS,
    issuer: rules.issuer,
    audiences: [rules.audience],
    clockToleranceS: rules.clockToleranceS,
    texts: ACCESS_TOKEN_TEXTS
  }
}

/** fast-jwt options as @fastify/jwt takes them (request.jwtVerify): the algorithm is pinned, never taken from the token. */
export function fastJwtOptions (rules: VerificationRules): Record<string, unknown> {
  return {
    algorithms: ['RS256'],
    allowedIss: rules.issuer,
    allowedAud: rules.audience,
    checkTyp: 'at+jwt',
    clockTolerance: rules.clockToleranceS * 1000,
    requiredClaims: [...REQUIRED_CLAIMS],
    allowedCritHeaders: []
  }
}

/** Header checks, before any key is looked up: a token cannot steer which key or algorithm is used. Returns kid and alg. */
export function checkHeader (header: Record<string, unknown>, profile: TokenProfile): { kid: string, alg: string } {
  const { texts } = profile
  const alg = header.alg
  if (typeof alg !== 'string' || !profile.algorithms.includes(alg)) throw new TokenRefused('bad_algorithm', texts.algorithm, `alg ${JSON.stringify(alg)}`)
  if (profile.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== profile.typ)) {
    throw new TokenRefused('wrong_type', texts.type, `typ ${JSON.stringify(header.typ)}`)
  }
  for (const name of FORBIDDEN_HEADERS) {
    if (name in header) throw new TokenRefused('forbidden_header', texts.header, `header carries ${name}`)
  }
  const kid = header.kid
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > profile.maxKidLength) throw new TokenRefused('malformed', texts.kid)
  return { kid, alg }
}

/**
 * aud, then iss, as fast-jwt would check them after exp (the same order, so a token wrong in several ways keeps
 * its reason): checked here because fast-jwt raises one code for a wrong value of any claim.
 */
export function checkAudienceAndIssuer (payload: Record<string, unknown>, profile: TokenProfile): void {
  const { aud, iss } = payload
  const auds = Array.isArray(aud) ? aud as unknown[] : [aud]
  if (!auds.every(a => typeof a === 'string') || !auds.some(a => profile.audiences.includes(a as string))) {
    throw new TokenRefused('wrong_audience', profile.texts.invalid, `aud ${JSON.stringify(aud)?.slice(0, 200)}`)
  }
  if (iss !== profile.issuer) throw new TokenRefused('wrong_issuer', profile.texts.invalid, `iss ${JSON.stringify(iss)?.slice(0, 200)}`)
}

/**
 * Claim checks fast-jwt does not make: types of our own claims, values the issuer can issue, iat not in the
 * future, a sane lifetime. A claim the issuer never writes is refused even under a valid signature: defence in
 * depth against a leaked key, an issuer bug or a grant added later (issue 13). One public text for every
 * bad_claims refusal, so an unknown organization reads exactly like a malformed one.
 */
export function checkClaims (payload: Record<string, unknown>, rules: VerificationRules, nowMs: number): AccessTokenClaims {
  for (const name of ['sub', 'client_id', 'org', 'scope', 'jti'] as const) {
    if (typeof payload[name] !== 'string') throw new TokenRefused('bad_claims', 'token claims are malformed', `${name} is not a string`)
  }
  const { org, scope } = payload as { org: string, scope: string }
  if (!isOrgName(org)) throw new TokenRefused('bad_claims', 'token claims are malformed', `org ${JSON.stringify(org.slice(0, 80))} is not an organization name`)
  if (!isKnownScopeList(scope)) throw new TokenRefused('bad_claims', 'token claims are malformed', `scope ${JSON.stringify(scope.slice(0, 200))} is not a list of known scopes`)
  if (rules.knownOrg !== undefined && !rules.knownOrg(org)) throw new TokenRefused('bad_claims', 'token claims are malformed', `org ${org} is unknown to the registry`)
  const { iat, exp } = payload
  if (typeof iat !== 'number' || typeof exp !== 'number') throw new TokenRefused('bad_claims', 'token claims are malformed', 'iat/exp not numbers')
  // fast-jwt checks exp against the wall clock; checked again here against the injected one, which tests and
  // callers outside a request (introspection) rely on.
  if (exp * 1000 + rules.clockToleranceS * 1000 <= nowMs) throw new TokenRefused('expired', 'token has expired')
  if (iat * 1000 > nowMs + rules.clockToleranceS * 1000) throw new TokenRefused('issued_in_future', 'token was issued in the future')
  if (exp - iat > rules.maxLifetimeS) throw new TokenRefused('bad_lifetime', 'token lifetime exceeds what the issuer grants')
  return payload as unknown as AccessTokenClaims
}
