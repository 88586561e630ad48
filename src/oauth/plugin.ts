// The authorization server: discovery and JWKS under /.well-known; token, revocation and introspection under /oauth.
import type { FastifyInstance } from 'fastify'
import type { TrustedIssuer } from './trusted-issuers.js'
import type { VerificationRules } from '../verifier/rules.js'
import { createVerifierCore } from '../verifier/core.js'
import { clientCredentials } from './grants/client-credentials.js'
import { jwtBearer } from './grants/jwt-bearer.js'
import { refreshToken } from './grants/refresh-token.js'
import wellKnown from './well-known.js'
import oauthEndpoints from './endpoints.js'
import type { TokenLimitOptions } from './limits.js'

export interface OAuthOptions {
  rules: VerificationRules
  ttlS: number
  clock: () => number
  jwksMaxAgeS: number
  /** External IdPs for the jwt-bearer grant; none turns the grant off. */
  trustedIssuers: readonly TrustedIssuer[]
  /** Rate limits and lockout on /oauth/* (src/oauth/limits.ts), counted in app.tokenState's backend. */
  limits?: TokenLimitOptions
}

export default async function oauth (app: FastifyInstance, opts: OAuthOptions) {
  const { issuer, audience, clockToleranceS } = opts.rules
  const state = app.tokenState
  const grants = [
    clientCredentials,
    ...(opts.trustedIssuers.length === 0
      ? []
      : [jwtBearer({ issuers: opts.trustedIssuers, issuer, tokenEndpoint: `${issuer}/oauth/token`, clockToleranceS, usedAssertions: state.usedAssertions, clock: opts.clock })]),
    refreshToken({ refreshTokens: state.refreshTokens, log: app.log, issuers: opts.trustedIssuers })
  ]
  await app.register(wellKnown, { prefix: '/.well-known', issuer, jwksMaxAgeS: opts.jwksMaxAgeS, grantTypes: grants.map(g => g.grantType) })
  await app.register(oauthEndpoints, {
    prefix: '/oauth',
    issuer,
    audience,
    ttlS: opts.ttlS,
    clockToleranceS,
    clock: opts.clock,
    grants,
    refreshTokens: state.refreshTokens,
    // No cache and no revocation hook: each endpoint asks the deny-list itself, after its own client checks.
    verifyAccessToken: createVerifierCore({ ...opts.rules, knownOrg: org => app.clients.directory.hasOrg(org), keys: app.keys, clock: opts.clock, cacheSize: 0 }),
    ...(opts.limits !== undefined ? { limits: { ...opts.limits, lockouts: state.lockouts, rateLimits: state.rateLimits } } : {})
  })
}
