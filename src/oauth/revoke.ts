// POST /oauth/revoke (RFC 7009): a client revokes its own refresh or access tokens.
import type { FastifyInstance } from 'fastify'
import { audit } from '../shared/audit.js'
import type { RefreshTokens } from '../tokens/refresh-tokens.js'
import type { TokenVerifier } from '../verifier/core.js'
import { authenticatedClient } from './client-auth.js'
import { OAuthErrorSchema, RevocationResponseSchema, TokenHintRequestSchema, type TokenHintRequest } from './schemas.js'

export interface RevokeOptions {
  /** Revoked tokens stay denied this long past exp, as long as verifiers still accept them. */
  clockToleranceS: number
  clock: () => number
  refreshTokens: RefreshTokens
  /** Verifies our own access tokens for revocation and introspection. */
  verifyAccessToken: TokenVerifier
}

export default async function revokeRoute (app: FastifyInstance, opts: RevokeOptions) {
  app.post<{ Body: TokenHintRequest }>('/revoke', {
    bodyLimit: 32768,
    schema: {
      consumes: ['application/x-www-form-urlencoded'], // for the OpenAPI document (RFC 7009 §2.1)
      body: TokenHintRequestSchema, response: { 200: RevocationResponseSchema, '4xx': OAuthErrorSchema } }
  }, async (request, reply) => {
    const { token } = request.body
    const client = authenticatedClient(request, app.clients.directory, opts.clock())
    const who = { client_id: client.client_id, org: client.org }
    // §2.1: the hint only orders the lookups; a wrong hint still finds the token.
    const refresh = await opts.refreshTokens.revoke(token, client.client_id)
    if (refresh.revoked) {
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
