// Owns the jwt-bearer grant (RFC 7523 §2.1): an external IdP's signed assertion exchanged for our access token.
import { JWT_BEARER } from '../../clients/registry.js'
import { OAuthError } from '../../shared/errors.js'
import { mayGrantOrg, type TrustedIssuer } from '../trusted-issuers.js'
import type { UsedAssertions } from '../../tokens/state.js'
import { JwksClient } from '../../verifier/jwks-client.js'
import { decodeUnverified, jwsVerifier, type VerifiedJws } from '../../verifier/jws.js'
import { TokenRefused } from '../../verifier/refusal.js'
import type { RefusalTexts } from '../../verifier/rules.js'
import { grantedScope } from './client-credentials.js'
import type { Grant } from './grant.js'
import type { JwtBearerParams } from '../schemas.js'

export interface JwtBearerOptions {
  issuers: readonly TrustedIssuer[]
  /** Our issuer and token endpoint: the audiences an assertion may name when its IdP has none configured. */
  issuer: string
  tokenEndpoint: string
  clockToleranceS: number
  usedAssertions: UsedAssertions
  clock: () => number
  /** JWKS fetch tuning for the IdPs' key sets. */
  jwks?: { timeoutMs?: number, minCacheS?: number, maxCacheS?: number, kidMissCooldownMs?: number }
}

const invalidGrant = (description: string, detail?: string): OAuthError => new OAuthError('invalid_grant', description, 400, detail)
const MAX_ASSERTION_BYTES = 16 * 1024

// The verification core's refusals, worded for an assertion (RFC 6749 §5.2 invalid_grant).
const ASSERTION_TEXTS: RefusalTexts = {
  algorithm: 'the assertion algorithm is not allowed',
  type: 'the assertion type is not allowed',
  header: 'the assertion header is not accepted',
  kid: 'the assertion has no kid',
  unknownKey: 'the assertion signing key is unknown',
  expired: 'the assertion has expired',
  invalid: 'the assertion is invalid'
}

interface Idp { config: TrustedIssuer, verify: (token: string) => Promise<VerifiedJws> }

export function jwtBearer (opts: JwtBearerOptions): Grant<JwtBearerParams> {
  const idps = new Map<string, Idp>(opts.issuers.map(config => {
    const keys = new JwksClient({ ...opts.jwks, jwksUri: config.jwks_uri, clock: opts.clock })
    const verify = jwsVerifier({
      algorithms: config.algorithms,
      maxKidLength: 256,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
      issuer: config.issuer,
      audiences: config.audience !== undefined ? [config.audience] : [opts.tokenEndpoint, opts.issuer],
      clockToleranceS: opts.clockToleranceS,
      texts: ASSERTION_TEXTS
    }, async (kid, alg) => await keys.key(kid, alg))
    return [config.issuer, { config, verify }]
  }))

  return {
    grantType: JWT_BEARER,
    async handle (client, params, nowMs) {
      const assertion = params.assertion
      if (assertion === undefined) throw new OAuthError('invalid_request', 'missing parameter assertion')
      if (assertion.length > MAX_ASSERTION_BYTES) throw invalidGrant('the assertion is too large')
      let unverified: Record<string, unknown>
      try {
        ({ payload: unverified } = decodeUnverified(assertion))
      } catch { throw invalidGrant('the assertion is not a JWT') }
      // The unverified iss only selects which configured IdP to check against; nothing else is taken from it.
      const idp = typeof unverified.iss === 'string' ? idps.get(unverified.iss) : undefined
      if (idp === undefined) throw invalidGrant('the assertion issuer is not trusted', `iss ${JSON.stringify(unverified.iss)}`)
      const { config } = idp

      let claims: Record<string, unknown>
      try {
        claims = (await idp.verify(assertion)).payload
      } catch (err) {
        if (err instanceof TokenRefused) throw invalidGrant(err.message, err.detail)
        if ((err as { code?: string }).code === 'APP_JWKS_UNAVAILABLE') {
          throw new OAuthError('temporarily_unavailable', 'the identity provider keys are unavailable; retry later', 503, (err as Error).message)
        }
        throw invalidGrant(ASSERTION_TEXTS.invalid, String(err))
      }

      const now = nowMs / 1000
      const exp = claims.exp as number
      if (exp - now > config.max_assertion_lifetime_s + opts.clockToleranceS) throw invalidGrant(`the assertion must expire within ${config.max_assertion_lifetime_s} s`)
      if (typeof claims.iat === 'number' && claims.iat > now + opts.clockToleranceS) throw invalidGrant('the assertion was issued in the future')
      if (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > 256) throw invalidGrant('the assertion needs a jti')

      const subject = claims[config.subject_claim]
      if (typeof subject !== 'string' || subject === '' || subject.length > 256) throw invalidGrant(`the assertion has no usable ${config.subject_claim} claim`)
      const org = 'fixed' in config.org ? config.org.fixed : claims[config.org.claim]
      if (typeof org !== 'string' || !mayGrantOrg(config, org)) throw invalidGrant('the assertion does not name an organization this issuer may grant')
      // A client acts for its own organization only, whatever the assertion says.
      if (org !== client.org) throw invalidGrant('the assertion is for another organization than this client')

      const scope = grantedScope(config.scopes.filter(s => (client.scopes as string[]).includes(s)), params.scope)
      if (scope === '') throw new OAuthError('invalid_scope', 'this issuer and this client have no scope in common')

      // Checked last so a refused assertion does not burn its jti; the add itself is atomic against a concurrent replay.
      if (!await opts.usedAssertions.add(`${config.issuer}|${claims.jti}`, (exp + opts.clockToleranceS) * 1000)) {
        throw invalidGrant('the assertion has already been used')
      }
      return { subject, org, scope, refresh: { scope, issuer: config.issuer } }
    }
  }
}
