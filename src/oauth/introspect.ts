// POST /oauth/introspect (RFC 7662): whether a token is active, for authenticated clients.
import type { FastifyInstance } from 'fastify'
import { authenticatedClient } from './client-auth.js'
import { TokenHintBodySchema, type TokenHintBody } from './revoke.js'
import type { TokenRouteOptions } from './token.js'
import { OAuthErrorSchema } from './token.js'

const IntrospectionSchema = {
  type: 'object',
  properties: {
    active: { type: 'boolean' },
    token_type: { type: 'string' },
    scope: { type: 'string' },
    client_id: { type: 'string' },
    sub: { type: 'string' },
    org: { type: 'string' },
    iss: { type: 'string' },
    aud: { type: 'string' },
    exp: { type: 'integer' },
    iat: { type: 'integer' },
    jti: { type: 'string' }
  },
  required: ['active']
} as const

export default async function introspectRoute (app: FastifyInstance, opts: TokenRouteOptions) {
  app.post<{ Body: TokenHintBody }>('/introspect', {
    bodyLimit: 32768,
    config: { introspection: true }, // its own limit (src/oauth/limits.ts)
    schema: {
      consumes: ['application/x-www-form-urlencoded'], // for the OpenAPI document (RFC 7662 §2.1)
      body: TokenHintBodySchema, response: { 200: IntrospectionSchema, '4xx': OAuthErrorSchema } }
  }, async (request) => {
    const { token } = request.body
    const client = authenticatedClient(request, app.clients.directory, opts.clock())
    const now = opts.clock()
    const refresh = await opts.refreshTokens.inspect(token, client.client_id, now)
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
