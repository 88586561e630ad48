// POST /oauth/token (RFC 6749 §3.2): form parsing, client authentication, grant dispatch, §5.2 errors.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import { OAuthError } from '../shared/errors.js'
import { accessTokenClaims, signAccessToken } from '../tokens/access-token.js'
import type { RefreshTokens } from '../tokens/refresh-tokens.js'
import { authenticatedClient } from './client-auth.js'
import { checkGrantAllowed } from './grants/client-credentials.js'
import type { Grant, TokenParams } from './grants/grant.js'
import introspectRoute from './introspect.js'
import revokeRoute from './revoke.js'
import type { TokenVerifier } from '../verifier/verify.js'
import tokenLimits, { presentedClientId, type TokenLimitOptions } from './limits.js'
import { audit } from '../shared/audit.js'

export interface TokenRouteOptions {
  issuer: string
  audience: string
  ttlS: number
  /** Revoked tokens stay denied this long past exp, as long as verifiers still accept them. */
  clockToleranceS: number
  clock: () => number
  grants: readonly Grant[]
  refreshTokens: RefreshTokens
  /** Verifies our own access tokens for revocation and introspection. */
  verifyAccessToken: TokenVerifier
  /** Per-IP and per-client rate limits and the failed-authentication lockout for this scope (src/oauth/limits.ts). */
  limits?: TokenLimitOptions
}

interface TokenBody extends TokenParams { client_id?: string, client_secret?: string }

const TokenBodySchema = {
  type: 'object',
  properties: {
    grant_type: { type: 'string', minLength: 1, maxLength: 256 },
    scope: { type: 'string', maxLength: 1024 },
    client_id: { type: 'string', minLength: 1, maxLength: 256 },
    client_secret: { type: 'string', minLength: 1, maxLength: 512 },
    assertion: { type: 'string', minLength: 1, maxLength: 16384 },
    refresh_token: { type: 'string', minLength: 1, maxLength: 512 }
  },
  required: ['grant_type']
} as const

const TokenResponseSchema = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
    refresh_token: { type: 'string' }
  },
  required: ['access_token', 'token_type', 'expires_in', 'scope']
} as const

export const OAuthErrorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  required: ['error']
} as const

/** Maps any error raised in this scope to an RFC 6749 §5.2 answer; framework errors become invalid_request. */
export function toOAuthError (err: FastifyError | OAuthError): OAuthError {
  if (err instanceof OAuthError) return err
  if (err.code === 'FST_ERR_VALIDATION') {
    const v = err.validation?.[0]
    const param = v?.instancePath.slice(1) || (v?.params as { missingProperty?: string } | undefined)?.missingProperty
    if (v?.keyword === 'required') return new OAuthError('invalid_request', `missing parameter ${param}`)
    if (v?.keyword === 'type' && param !== undefined) return new OAuthError('invalid_request', `parameter ${param} must be given exactly once`)
    if (param !== undefined && param !== '') return new OAuthError('invalid_request', `parameter ${param} ${v?.message ?? 'is invalid'}`)
    return new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded parameters')
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_EMPTY_TYPE') {
    return new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded')
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new OAuthError('invalid_request', 'the request body is too large')
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new OAuthError('invalid_request', 'the request is malformed', 400, `${err.code}: ${err.message}`)
  }
  throw err
}

export default async function tokenRoutes (app: FastifyInstance, opts: TokenRouteOptions) {
  const grants = new Map(opts.grants.map(g => [g.grantType, g]))
  // RFC 6749 §3.2: form parameters only, so no other body parser exists in this scope.
  app.removeAllContentTypeParsers()
  await app.register(formbody, { bodyLimit: 8192 })
  if (opts.limits !== undefined) await app.register(tokenLimits, opts.limits)

  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    done(null, payload)
  })

  app.setErrorHandler(function oauthErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    let oauth: OAuthError
    try { oauth = toOAuthError(error) } catch {
      request.log.error({ err: error }, 'token endpoint failed')
      return reply.code(500).send({ error: 'server_error', error_description: 'the server could not issue a token' })
    }
    const { client_id: bodyClientId } = (request.body ?? {}) as Partial<TokenBody>
    audit(request.log, oauth.error === 'invalid_client' ? 'client.auth_failed' : 'token.refused', {
      error: oauth.error, reason: oauth.error, detail: oauth.detail ?? oauth.message,
      client_id: presentedClientId(request) ?? (typeof bodyClientId === 'string' ? bodyClientId : undefined)
    })
    if (oauth.error === 'invalid_client') reply.header('www-authenticate', 'Basic realm="geotoken", charset="UTF-8"')
    // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E only; a reflected parameter may hold anything.
    return reply.code(oauth.statusCode).send({ error: oauth.error, error_description: oauth.message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?') })
  })

  app.post<{ Body: TokenBody }>('/token', {
    bodyLimit: 8192,
    schema: {
      consumes: ['application/x-www-form-urlencoded'], // for the OpenAPI document (RFC 6749 §3.2)
      body: TokenBodySchema,
      response: { 200: TokenResponseSchema, '4xx': OAuthErrorSchema, '5xx': OAuthErrorSchema }
    }
  }, async (request) => {
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
    if (granted.refresh !== undefined) {
      const { scope, issuer, family } = granted.refresh
      const minted = await opts.refreshTokens.issue({ clientId: client.client_id, org: granted.org, subject: granted.subject, scope, ...(issuer === undefined ? {} : { issuer }) }, now, family)
      // Recorded before anything is handed out, so revoking the family (or a detected reuse) also denies it. A
      // concurrent reuse of the token this one replaces may have revoked the family meanwhile: then neither
      // token leaves (issue 13: the winner of two simultaneous refreshes kept a working access token).
      if (!await opts.refreshTokens.recordAccessToken(minted.familyId, claims.jti, (claims.exp + opts.clockToleranceS) * 1000)) {
        throw new OAuthError('invalid_grant', 'the refresh token has been revoked', 400, 'family revoked while the token was rotated')
      }
      refreshToken = minted.token
    }
    const key = app.keys.view.signing
    const accessToken = await signAccessToken(key, claims)
    audit(request.log, 'token.issued', { grant_type: body.grant_type, client_id: client.client_id, org: granted.org, sub: granted.subject, kid: key.kid, scope: granted.scope, jti: claims.jti, refresh: refreshToken !== undefined })
    app.metrics.tokensIssued.inc({ grant_type: body.grant_type, org: granted.org })
    return { access_token: accessToken, token_type: 'Bearer', expires_in: opts.ttlS, scope: granted.scope, ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }) }
  })

  // Children inherit this scope's form parser, limits and error handler; the scope's own prefix is not repeated.
  await app.register(revokeRoute, { ...opts, prefix: '' })
  await app.register(introspectRoute, { ...opts, prefix: '' })
}
