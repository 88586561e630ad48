// Routes under /.well-known: the JWKS (RFC 7517) and the discovery documents (RFC 8414), readable from any origin.
import type { FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import { serverMetadata } from './metadata.js'
import { noneMatch } from '../shared/etag.js'
import { JwksSchema, NotModifiedSchema, ServerMetadataSchema } from './schemas.js'

export default async function wellKnown (app: FastifyInstance, opts: { issuer: string, jwksMaxAgeS: number, grantTypes: readonly string[] }) {
  await app.register(cors, { origin: '*', methods: ['GET', 'HEAD'] })
  const cacheControl = `public, max-age=${opts.jwksMaxAgeS}`

  app.get('/jwks.json', {
    schema: {
      response: {
        // The body is pre-serialized per key-ring change; the schema documents it for OpenAPI.
        200: JwksSchema,
        304: NotModifiedSchema
      }
    }
  }, async (request, reply) => {
    const { body, etag } = app.keys.view.jwks
    reply.header('cache-control', cacheControl).header('etag', etag)
    if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send()
    return reply.type('application/jwk-set+json').serializer(String).send(body)
  })

  const metadata = serverMetadata(opts.issuer, opts.grantTypes)
  const metadataRoute = { schema: { response: { 200: ServerMetadataSchema } } }
  const sendMetadata = async () => metadata
  app.get('/oauth-authorization-server', metadataRoute, sendMetadata)
  app.get('/openid-configuration', metadataRoute, sendMetadata)
}
