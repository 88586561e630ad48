// Owns OAuth client authentication (RFC 6749 §2.3.1): client_secret_basic or client_secret_post, never both.
import type { FastifyRequest } from 'fastify'
import { OAuthError } from '../shared/errors.js'
import type { Client, ClientDirectory } from '../clients/registry.js'

export interface PresentedCredentials { clientId: string, secret: string, method: 'client_secret_basic' | 'client_secret_post' }

const failed = (detail: string): OAuthError => new OAuthError('invalid_client', 'client authentication failed', 401, detail)

// RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined for Basic.
function formDecode (value: string): string {
  try { return decodeURIComponent(value.replace(/\+/g, ' ')) } catch { throw failed('Basic credentials are not form-urlencoded') }
}

/** Reads the credentials a client presented, rejecting ambiguous requests. */
export function presentedCredentials (authorization: string | undefined, body: { client_id?: string, client_secret?: string }): PresentedCredentials {
  if (authorization !== undefined) {
    const match = /^Basic +([A-Za-z0-9+/]+={0,2})$/i.exec(authorization)
    if (match === null) throw failed('Authorization header is not Basic')
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 1) throw failed('Basic credentials have no client id')
    if (body.client_secret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method: Basic or client_secret in the body, not both')
    }
    const clientId = formDecode(decoded.slice(0, colon))
    if (body.client_id !== undefined && body.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body does not match the Basic credentials')
    }
    return { clientId, secret: formDecode(decoded.slice(colon + 1)), method: 'client_secret_basic' }
  }
  if (body.client_id === undefined || body.client_secret === undefined) throw failed('no client credentials presented')
  return { clientId: body.client_id, secret: body.client_secret, method: 'client_secret_post' }
}

const presented = new WeakMap<FastifyRequest, PresentedCredentials | OAuthError>()

/**
 * The credentials a request presents, read once per request: the per-client limit, the lockout, the error audit
 * and the endpoint all ask. Only once the body is parsed (client_secret_post): from preValidation on.
 */
export function requestCredentials (request: FastifyRequest): PresentedCredentials {
  let result = presented.get(request)
  if (result === undefined) {
    try {
      result = presentedCredentials(request.headers.authorization, (request.body ?? {}) as { client_id?: string, client_secret?: string })
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      result = err
    }
    presented.set(request, result)
  }
  if (result instanceof OAuthError) throw result
  return result
}

/** The authenticated client; unknown client, wrong secret and disabled client answer alike. */
export function authenticateClient (directory: ClientDirectory, presented: PresentedCredentials, nowMs: number): Client {
  const client = directory.authenticate(presented.clientId, presented.secret, nowMs)
  if (client === null) throw failed(`client ${presented.clientId} failed ${presented.method}`)
  return client
}

const authenticated = new WeakMap<FastifyRequest, Client | OAuthError>()

/**
 * The request's client, authenticated once per request: the limits (src/oauth/limits.ts) ask first, so that
 * only authenticated requests spend a client's budget, and the endpoint asks again for the same answer.
 */
export function authenticatedClient (request: FastifyRequest, directory: ClientDirectory, nowMs: number): Client {
  let result = authenticated.get(request)
  if (result === undefined) {
    try {
      result = authenticateClient(directory, requestCredentials(request), nowMs)
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      result = err
    }
    authenticated.set(request, result)
  }
  if (result instanceof OAuthError) throw result
  return result
}

/** What client authentication concluded for this request, if it was attempted: the client, or the error. */
export function authenticationOutcome (request: FastifyRequest): Client | OAuthError | undefined {
  return authenticated.get(request)
}
