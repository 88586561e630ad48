/// <reference types="@fastify/jwt" preserve="true" />
// Fastify adapter that guards routes with geotoken access tokens (RFC 6750), whatever the key source.
// (The reference above keeps @fastify/jwt's declaration of request.user in guard.d.ts for consumers' compilers.)
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import { bearerToken } from '../shared/bearer.js'
import { OAuthError } from '../shared/errors.js'
import type { AccessTokenClaims } from '../tokens/claims.js'
import { createVerifierCore } from './core.js'
import type { KeySource } from './key-source.js'
import { accessTokenProfile, checkHeader, fastJwtOptions, type VerificationRules } from './rules.js'
import { refusalReason, TokenRefused, type RefusalReason } from './refusal.js'

export type { KeySource } from './key-source.js'

declare module '@fastify/jwt' {
  interface FastifyJWT { user: AccessTokenClaims }
}
declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest/preHandler hook: 401 unless a valid access token is presented. */
    authenticate: preHandlerAsyncHookHandler
    /** preHandler hook: 403 insufficient_scope unless the token carries `scope`. */
    requireScope: (scope: string) => preHandlerAsyncHookHandler
  }
}

export interface GuardOptions extends VerificationRules {
  keys: KeySource
  realm?: string
  /** Optional revocation check on verified claims (jti deny-list, introspection). */
  isRevoked?: (claims: AccessTokenClaims) => boolean | Promise<boolean>
  clock?: () => number
  /** How many verified tokens to remember (default 10,000; 0: verify every request in full). */
  tokenCacheSize?: number
  /** Called once per refused access token (metrics): `reason` is a short label such as `expired` or `unknown_kid`. */
  onRefused?: (reason: RefusalReason, request: FastifyRequest) => void
}

function quoted (value: string): string { return value.replace(/["\\]/g, '') }

/** Sends an RFC 6750 §3 challenge with an RFC 9457 problem body. */
export function sendChallenge (reply: FastifyReply, realm: string, err?: OAuthError, scope?: string): FastifyReply {
  const params = [`realm="${quoted(realm)}"`]
  if (err !== undefined) params.push(`error="${err.error}"`, `error_description="${quoted(err.message)}"`)
  if (scope !== undefined) params.push(`scope="${quoted(scope)}"`)
  const status = err?.statusCode ?? 401
  return reply.code(status)
    .header('www-authenticate', `Bearer ${params.join(', ')}`)
    .header('cache-control', 'no-store')
    .type('application/problem+json')
    .send({
      type: 'about:blank',
      title: status === 403 ? 'Forbidden' : 'Unauthorized',
      status,
      detail: err?.message ?? 'an access token is required (Authorization: Bearer <token>)',
      ...(err !== undefined ? { error: err.error } : {})
    })
}

export default fp(async function guard (app, opts: GuardOptions) {
  const realm = opts.realm ?? 'geotoken'
  const clock = opts.clock ?? Date.now
  const isRevoked = opts.isRevoked
  const verify = createVerifierCore({
    ...opts,
    clock,
    cacheSize: opts.tokenCacheSize ?? 10_000,
    ...(isRevoked !== undefined ? { isRevoked: async (claims: AccessTokenClaims) => await isRevoked(claims) } : {})
  })
  // @fastify/jwt stays the Fastify-facing layer: it owns request.user (its type declared above, for consumers'
  // compilers too) and gives routes request.jwtVerify/jwtDecode with the same header rules, keys and options.
  // authenticate itself goes through the core: docs/verification-core.md says why (per-request verifier
  // creation, error codes folded into one, typ mismatch as a 500).
  const profile = accessTokenProfile(opts)
  await app.register(fastifyJwt, {
    secret: {
      public: async (_request: FastifyRequest, token: unknown) => {
        const { header } = token as { header: Record<string, unknown> }
        const { kid } = checkHeader(header, profile)
        const pem = await opts.keys.publicKey(kid)
        if (pem === undefined) throw new TokenRefused('unknown_kid', profile.texts.unknownKey, `kid ${kid}`)
        return pem
      }
    },
    decode: { complete: true },
    // Our own parsing of the header (RFC 6750 §2.1), never a cookie or the query string.
    verify: { ...fastJwtOptions(opts), extractToken: (request: FastifyRequest) => bearerToken(request.headers.authorization) }
  })

  app.decorate('authenticate', async function authenticate (request: FastifyRequest, reply: FastifyReply) {
    if (request.headers.authorization === undefined) { opts.onRefused?.('missing', request); return sendChallenge(reply, realm) }
    try {
      const token = bearerToken(request.headers.authorization)
      if (token === undefined) throw new TokenRefused('malformed', 'Authorization header is not "Bearer <token>"')
      request.user = await verify(token)
    } catch (err) {
      if ((err as { code?: string }).code === 'APP_JWKS_UNAVAILABLE') {
        // Not the token's fault: the keys to judge it cannot be had. 503 tells the client to retry, not to re-authenticate.
        request.log.warn({ event: 'token.keys_unavailable', reason: (err as Error).message }, 'verification keys unavailable')
        return reply.code(503).header('retry-after', '5').type('application/problem+json')
          .send({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the keys to verify the token are unavailable; retry later' })
      }
      const oauth = err instanceof OAuthError ? err : new OAuthError('invalid_token', 'token is invalid', 401, String(err))
      const reason = refusalReason(oauth)
      opts.onRefused?.(reason, request)
      request.log.info({ audit: true, event: 'token.refused', reason, error_description: oauth.message, detail: oauth.detail }, 'access token refused')
      return sendChallenge(reply, realm, oauth)
    }
  })

  app.decorate('requireScope', function requireScope (scope: string) {
    return async function scopeGuard (request: FastifyRequest, reply: FastifyReply) {
      if (!request.user.scope.split(' ').includes(scope)) {
        return sendChallenge(reply, realm, new OAuthError('insufficient_scope', `this request needs scope ${scope}`, 403), scope)
      }
    }
  })
}, { name: 'geotoken-guard', fastify: '5.x' })
