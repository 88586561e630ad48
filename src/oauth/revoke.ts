// POST /oauth/revoke (RFC 7009): a client revokes its own refresh or access tokens.
import type { FastifyInstance } from 'fastify'
import { audit } from '../shared/audit.js'
import { authenticatedClient } from './client-auth.js'
import type { TokenRouteOptions } from './token.js'
import { OAuthErrorSchema } from './token.js'

/** The body of both revocation and introspection: a token, an optional hint, optional client_secret_post credentials. */
export interface TokenHintBody { token: string, token_type_hint?: string, client_id?: string, client_secret?: string }

export const TokenHintBodySchema = {
  type: 'object',
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 16384 },
    token_type_hint: { type: 'string', maxLength: 64 },
    client_id: { type: 'string', minLength: 1, maxLength: 256 },
    client_secret: { type: 'string', minLength: 1, maxLength: 512 }
  },
  required: ['token']
} as const

export default async function revokeRoute (app: FastifyInstance, opts: TokenRouteOptions) {
  app.post<{ Body: TokenHintBody }>('/revoke', {
    bodyLimit: 32768,
    schema: {
      consumes: ['application/x-www-form-urlencoded'], // for the OpenAPI document (RFC 7009 §2.1)
      body: TokenHintBodySchema, response: { 200: { type: 'null' }, '4xx': OAuthErrorSchema } }
  }, async (request, reply) => {
    const { token } = request.body
    const client = authenticatedClient(request, app.clients.directory, opts.clock())
    const who = { client_id: client.client_id, org: client.org }
    // §2.1: the hint only orders the lookups; a wrong hint still finds the token.
    const refresh = await opts.refreshTokens.revoke(token, client.client_id)
    if (refresh.revoked) {
      for (const t of refresh.accessTokens) await app.tokenState.revoked.add(t.jti, t.expiresAtMs)
      audit(request.log, 'token.revoked', { ...who, reason: 'refresh_token', detail: `family revoked with ${refresh.accessTokens.length} access tokens` })
      return await reply.code(200).send()
    }
    const claims = await opts.verifyAccessToken(token).catch(() => undefined)
    // §2.2: an unknown, invalid, expired or foreign token is answered 200 all the same: nothing to learn from it.
    if (claims?.client_id === client.client_id) {
      await app.tokenState.revoked.add(claims.jti, (claims.exp + opts.clockToleranceS) * 1000)
      audit(request.log, 'token.revoked', { ...who, reason: 'access_token', jti: claims.jti })
    }
    return await reply.code(200).send()
  })
}
