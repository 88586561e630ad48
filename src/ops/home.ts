// Owns GET /: a small JSON index of the service's entry points, so a first request at the root is not a dead end.
import type { FastifyInstance } from 'fastify'

/** The entry points, absolute from the public ISSUER: what a newcomer or a client needs next. */
export function homeDocument (issuer: string): Record<string, string> {
  return {
    service: 'geotoken: OAuth 2.0 token service (RFC 9068 access tokens) and org-scoped OGC API - Features',
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    metadata: `${issuer}/.well-known/oauth-authorization-server`,
    features: `${issuer}/features`,
    docs: `${issuer}/docs`,
    openapi: `${issuer}/docs/json`,
    health: `${issuer}/health`,
    ready: `${issuer}/ready`
  }
}

export function addHome (app: FastifyInstance, issuer: string): void {
  const body = homeDocument(issuer)
  const properties = Object.fromEntries(Object.keys(body).map(k => [k, { type: 'string' }]))
  app.get('/', {
    schema: { description: 'The entry points of this service', response: { 200: { type: 'object', properties, required: Object.keys(body) } } }
  }, async () => body)
}
