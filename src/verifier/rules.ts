// Owns the rules every geotoken access token must pass, shared by the in-process guard and remote consumers.
import type { AccessTokenClaims } from '../tokens/access-token.js'
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

/** fast-jwt options: the algorithm is pinned, never taken from the token (RFC 8725 §3.1). */
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

/** RFC 9068 §4 header checks, before any key is looked up: a token cannot steer which key or algorithm is used. */
export function checkHeader (header: Record<string, unknown>): string {
  if (header.alg !== 'RS256') throw new TokenRefused('bad_algorithm', 'token algorithm is not allowed', `alg ${JSON.stringify(header.alg)}`)
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== 'at+jwt') {
    throw new TokenRefused('wrong_type', 'token is not an at+jwt access token', `typ ${JSON.stringify(header.typ)}`)
  }
  for (const name of ['jku', 'jwk', 'x5u', 'x5c', 'crit', 'b64']) {
    if (name in header) throw new TokenRefused('forbidden_header', 'token header is not accepted', `header carries ${name}`)
  }
  if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 128) throw new TokenRefused('malformed', 'token has no valid kid')
  return header.kid
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
