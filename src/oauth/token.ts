// POST /oauth/token (RFC 6749 §3.2): form parsing, client authentication, grant dispatch, §5.2 errors.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import { OAuthError } from '../errors.js'
import { accessTokenClaims, signAccessToken } from '../tokens/access-token.js'
import { authenticateClient, presentedCredentials } from './client-auth.js'
import { checkGrantAllowed, grantedScope } from './grants/client-credentials.js'

export interface TokenRouteOptions { issuer: string, audience: string, ttlS: number, clock: () => number }

interface TokenBody { grant_type: string, scope?: string, client_id?: string, client_secret?: string }

const TokenBodySchema = {
  type: 'object',
  properties: {
    grant_type: { type: 'string', minLength: 1, maxLength: 256 },
    scope: { type: 'string', maxLength: 1024 },
    client_id: { type: 'string', minLength: 1, maxLength: 256 },
    client_secret: { type: 'string', minLength: 1, maxLength: 512 }
  },
  required: ['grant_type']
} as const

const TokenResponseSchema = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' }
  },
  required: ['access_token', 'token_type', 'expires_in', 'scope']
} as const

const OAuthErrorSchema = {
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

const GRANTS = new Set(['client_credentials'])

export default async function tokenRoutes (app: FastifyInstance, opts: TokenRouteOptions) {
  // RFC 6749 §3.2: form parameters only, so no other body parser exists in this scope.
  app.removeAllContentTypeParsers()
  await app.register(formbody, { bodyLimit: 8192 })

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
  })

  app.setErrorHandler(function oauthErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
    let oauth: OAuthError
    try { oauth = toOAuthError(error) } catch {
      request.log.error({ err: error }, 'token endpoint failed')
      return reply.code(500).send({ error: 'server_error', error_description: 'the server could not issue a token' })
    }
    const { client_id: clientId } = (request.body ?? {}) as Partial<TokenBody>
    request.log.info({ event: 'token.refused', error: oauth.error, reason: oauth.message, detail: oauth.detail, client_id: typeof clientId === 'string' ? clientId : undefined }, 'token request refused')
    if (oauth.error === 'invalid_client') reply.header('www-authenticate', 'Basic realm="geotoken", charset="UTF-8"')
    // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E only; a reflected parameter may hold anything.
    return reply.code(oauth.statusCode).send({ error: oauth.error, error_description: oauth.message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?') })
  })

  app.post<{ Body: TokenBody }>('/token', {
    bodyLimit: 8192,
    schema: {
      body: TokenBodySchema,
      response: { 200: TokenResponseSchema, '4xx': OAuthErrorSchema, '5xx': OAuthErrorSchema }
    }
  }, async (request) => {
    const body = request.body
    if (!GRANTS.has(body.grant_type)) throw new OAuthError('unsupported_grant_type', `grant_type ${body.grant_type} is not supported; use client_credentials`)
    const client = authenticateClient(app.clients.directory, presentedCredentials(request.headers.authorization, body))
    checkGrantAllowed(client, body.grant_type)
    const scope = grantedScope(client, body.scope)
    const key = app.keys.view.signing
    const claims = accessTokenClaims({
      issuer: opts.issuer, audience: opts.audience, subject: client.client_id, clientId: client.client_id,
      org: client.org, scope, ttlS: opts.ttlS, now: opts.clock()
    })
    const accessToken = await signAccessToken(key, claims)
    request.log.info({ event: 'token.issued', grant_type: body.grant_type, client_id: client.client_id, org: client.org, kid: key.kid, scope, jti: claims.jti }, 'access token issued')
    return { access_token: accessToken, token_type: 'Bearer', expires_in: opts.ttlS, scope }
  })
}
