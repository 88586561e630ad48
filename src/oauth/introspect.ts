// POST /oauth/introspect (RFC 7662): whether a token is active, for authenticated clients.
import type { FastifyInstance } from 'fastify'
import type { RefreshTokens } from '../tokens/refresh-tokens.js'
import type { TokenVerifier } from '../verifier/core.js'
import { authenticatedClient } from './client-auth.js'
import { IntrospectionSchema, OAuthErrorSchema, TokenHintRequestSchema, type Introspection, type TokenHintRequest } from './schemas.js'

export interface IntrospectOptions {
  clock: () => number
  refreshTokens: RefreshTokens
  /** Verifies our own access tokens for revocation and introspection. */
  verifyAccessToken: TokenVerifier
}

export default async function introspectRoute (app: FastifyInstance, opts: IntrospectOptions) {
  app.post<{ Body: TokenHintRequest }>('/introspect', {
    bodyLimit: 32768,
    config: { introspection: true }, // its own limit (src/oauth/limits.ts)
    schema: {
      consumes: ['application/x-www-form-urlencoded'], // for the OpenAPI document (RFC 7662 §2.1)
      body: TokenHintRequestSchema, response: { 200: IntrospectionSchema, '4xx': OAuthErrorSchema } }
  }, async (request): Promise<Introspection> => {
    const { token } = request.body
    const client = authenticatedClient(request, app.clients.directory, opts.clock())
    const now = opts.clock()
    // A refresh token is opaque base64url, never a JWT: an access token (three dot-separated parts) is answered
    // without asking the refresh store, so access-token introspection needs only the local deny-list copy.
    const refresh = token.includes('.') ? undefined : await opts.refreshTokens.inspect(token, client.client_id, now)
    if (refresh !== undefined) {
      return { active: true, token_type: 'refresh_token', scope: refresh.scope, client_id: refresh.clientId, sub: refresh.subject, org: refresh.org, exp: Math.floor(refresh.expiresAtMs / 1000) }
    }
    const claims = await opts.verifyAccessToken(token).catch(() => undefined)
    // §4: a client sees its own tokens; tokens of others only with tokens:introspect (a resource server's right).
    const allowed = claims !== undefined && (claims.client_id === client.client_id || (client.scopes as string[]).includes('tokens:introspect'))
    if (!allowed || await app.tokenState.revoked.has(claims.jti)) return { active: false }
    return { active: true, token_type: 'Bearer', ...claims }
  })
}
