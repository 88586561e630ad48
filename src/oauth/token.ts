// POST /oauth/token (RFC 6749 §3.2): client authentication, grant dispatch, issuance (the scope: endpoints.ts).
import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../shared/errors.js'
import { audit } from '../shared/audit.js'
import { accessTokenClaims, signAccessToken } from '../tokens/access-token.js'
import type { RefreshTokens } from '../tokens/refresh-tokens.js'
import { authenticatedClient } from './client-auth.js'
import { checkGrantAllowed } from './grants/client-credentials.js'
import type { Grant } from './grants/grant.js'
import { OAuthErrorSchema, TokenRequestSchema, TokenResponseSchema, type TokenRequest, type TokenResponse } from './schemas.js'

export interface TokenRouteOptions {
  issuer: string
  audience: string
  ttlS: number
  /** Revoked tokens stay denied this long past exp, as long as verifiers still accept them. */
  clockToleranceS: number
  clock: () => number
  grants: readonly Grant[]
  refreshTokens: RefreshTokens
}

export default async function tokenRoute (app: FastifyInstance, opts: TokenRouteOptions) {
  const grants = new Map(opts.grants.map(g => [g.grantType, g]))

  app.post<{ Body: TokenRequest }>('/token', {
    bodyLimit: 8192,
    schema: {
      consumes: ['application/x-www-form-urlencoded'], // for the OpenAPI document (RFC 6749 §3.2)
      body: TokenRequestSchema,
      response: { 200: TokenResponseSchema, '4xx': OAuthErrorSchema, '5xx': OAuthErrorSchema }
    }
  }, async (request): Promise<TokenResponse> => {
    const body = request.body
    const grant = grants.get(body.grant_type)
    if (grant === undefined) throw new OAuthError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported; use one of ${[...grants.keys()].join(', ')}`)
    const client = authenticatedClient(request, app.clients.directory, opts.clock())
    checkGrantAllowed(client, body.grant_type)
    const now = opts.clock()
    const granted = await grant.handle(client, body, now)
    const claims = accessTokenClaims({
      issuer: opts.issuer, audience: opts.audience, subject: granted.subject, clientId: client.client_id,
      org: granted.org, scope: granted.scope, ttlS: opts.ttlS, now
    })
    let refreshToken: string | undefined
    let deniedAtIssue: string | undefined
    if (granted.refresh !== undefined) {
      const { scope, issuer, family } = granted.refresh
      const minted = await opts.refreshTokens.issue({ clientId: client.client_id, org: granted.org, subject: granted.subject, scope, ...(issuer === undefined ? {} : { issuer }) }, now, family)
      // Recorded before anything is handed out, so revoking the family (or a detected reuse) also denies it. A
      // concurrent reuse of the token this one replaces may have revoked the family since this request won the
      // rotation: then the store has denied the access token instead, and the new refresh token is dead with its
      // family. This request still answers: of two racing refreshes exactly one succeeds (issue 16), and what it
      // hands out is refused everywhere, as if the reuse had come just after the answer (issue 13).
      if (!await opts.refreshTokens.recordAccessToken(minted.familyId, claims.jti, (claims.exp + opts.clockToleranceS) * 1000)) {
        deniedAtIssue = 'the refresh token family was revoked while this request rotated it: these tokens are denied already'
      }
      // The token replaced is spent last: if the store failed before this (a 503), the client's retry still works.
      await family?.spend()
      refreshToken = minted.token
    }
    const key = app.keys.view.signing
    const accessToken = await signAccessToken(key, claims)
    audit(request.log, 'token.issued', { grant_type: body.grant_type, client_id: client.client_id, org: granted.org, sub: granted.subject, kid: key.kid, scope: granted.scope, jti: claims.jti, refresh: refreshToken !== undefined, detail: deniedAtIssue })
    app.metrics.tokensIssued.inc({ grant_type: body.grant_type, org: granted.org })
    return { access_token: accessToken, token_type: 'Bearer', expires_in: opts.ttlS, scope: granted.scope, ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }) }
  })
}
