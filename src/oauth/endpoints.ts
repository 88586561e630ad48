// Owns the /oauth scope shared by the token, revocation and introspection endpoints: form bodies only, no-store,
// the limits, and every error as an RFC 6749 §5.2 answer.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import { OAuthError } from '../shared/errors.js'
import { audit } from '../shared/audit.js'
import tokenLimits, { presentedClientId, type TokenLimitOptions, type TokenLimitStores } from './limits.js'
import tokenRoute, { type TokenRouteOptions } from './token.js'
import revokeRoute, { type RevokeOptions } from './revoke.js'
import introspectRoute, { type IntrospectOptions } from './introspect.js'

export type EndpointOptions = TokenRouteOptions & RevokeOptions & IntrospectOptions & {
  /** Per-IP and per-client rate limits and the failed-authentication lockout for this scope (src/oauth/limits.ts). */
  limits?: TokenLimitOptions & TokenLimitStores
}

/**
 * Retry-After of a 503 from this scope unless the error says otherwise (the embedded token state or an identity
 * provider unavailable): long enough for an operator's alert to fire before every client retries, short enough
 * that a passing fault costs a few seconds.
 */
const RETRY_AFTER_S = 5
/** Retry-After of a 503 while Redis is unreachable: the client reconnects within about a second. */
const STATE_RETRY_AFTER_S = 2

/** Maps any error raised in this scope to an RFC 6749 §5.2 answer; framework errors become invalid_request. */
function toOAuthError (err: FastifyError | OAuthError): OAuthError {
  if (err instanceof OAuthError) return err
  // The shared token state is unreachable or slow: nothing was decided, the client may retry (RFC 6749 §5.2 has no
  // 503, so the §4.1.2.1 code, with the status and Retry-After that say when).
  if (err.code === 'APP_REDIS_UNAVAILABLE') {
    return new OAuthError('temporarily_unavailable', 'the token service cannot reach its state store; retry shortly', 503, err.message, STATE_RETRY_AFTER_S)
  }
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
  // Nothing was stored, so nothing is answered as done: the client retries (RFC 6749 §4.1.2.1's "temporarily").
  if (err.code === 'APP_TOKEN_STATE_UNAVAILABLE') return new OAuthError('temporarily_unavailable', 'the token state cannot be stored or read right now; retry later', 503, err.message)
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new OAuthError('invalid_request', 'the request body is too large')
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new OAuthError('invalid_request', 'the request is malformed', 400, `${err.code}: ${err.message}`)
  }
  throw err
}

function oauthErrorHandler (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  let oauth: OAuthError
  try { oauth = toOAuthError(error) } catch {
    request.log.error({ err: error }, 'token endpoint failed')
    return reply.code(500).send({ error: 'server_error', error_description: 'the server could not issue a token' })
  }
  const { client_id: bodyClientId } = (request.body ?? {}) as { client_id?: unknown }
  audit(request.log, oauth.error === 'invalid_client' ? 'client.auth_failed' : 'token.refused', {
    error: oauth.error, reason: oauth.error, detail: oauth.detail ?? oauth.message,
    client_id: presentedClientId(request) ?? (typeof bodyClientId === 'string' ? bodyClientId : undefined)
  })
  if (oauth.error === 'invalid_client') reply.header('www-authenticate', 'Basic realm="geotoken", charset="UTF-8"')
  if (oauth.statusCode === 503) {
    if ((error as { code?: string }).code === 'APP_TOKEN_STATE_UNAVAILABLE') request.log.error({ event: 'token_state.unavailable', err: error }, 'token state unavailable: answered 503')
    reply.header('retry-after', String(oauth.retryAfterS ?? RETRY_AFTER_S))
  }
  // RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E only; a reflected parameter may hold anything.
  return reply.code(oauth.statusCode).send({ error: oauth.error, error_description: oauth.message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?') })
}

export default async function oauthEndpoints (app: FastifyInstance, opts: EndpointOptions) {
  // RFC 6749 §3.2: form parameters only, so no other body parser exists in this scope.
  app.removeAllContentTypeParsers()
  await app.register(formbody, { bodyLimit: 8192 })
  // Before the limits, which authenticate first: a client added on another instance a moment ago (STATE_STORE=redis)
  // is looked up in the store rather than refused. A known client costs one Map look-up and no promise.
  app.addHook('preHandler', (request, _reply, done) => {
    const clientId = presentedClientId(request)
    if (clientId === undefined || app.clients.directory.get(clientId) !== undefined) { done(); return }
    app.clients.lookup(clientId).then(ok => {
      done(ok ? undefined : new OAuthError('temporarily_unavailable', 'the client registry cannot be reached; retry shortly', 503, `client ${clientId} unknown here and the store did not answer`, STATE_RETRY_AFTER_S))
    }, done)
  })
  if (opts.limits !== undefined) await app.register(tokenLimits, opts.limits)

  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    done(null, payload)
  })
  app.setErrorHandler(oauthErrorHandler)

  // Children inherit this scope's form parser, limits and error handler; the scope's own prefix is not repeated.
  const routeOptions = { ...opts, prefix: '' }
  await app.register(tokenRoute, routeOptions)
  await app.register(revokeRoute, routeOptions)
  await app.register(introspectRoute, routeOptions)
}
