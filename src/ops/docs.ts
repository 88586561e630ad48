// Owns the API documentation: the OpenAPI document's frame (info, servers, security schemes) and the browsable UI at /docs.
import swaggerUi from '@fastify/swagger-ui'
import type { SwaggerOptions } from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

/** An OpenAPI document as @fastify/swagger builds it; the parts of the service may add to it (transform). */
export type OpenApiDocument = { paths?: Record<string, Record<string, { [k: string]: unknown }>>, [k: string]: unknown }

/** Where a part of the service adds what only it knows to the document (the feature API: one items path per collection). */
export class OpenApiTransforms {
  readonly #transforms: Array<(doc: OpenApiDocument) => OpenApiDocument> = []
  add (transform: (doc: OpenApiDocument) => OpenApiDocument): void { this.#transforms.push(transform) }
  apply (doc: OpenApiDocument): OpenApiDocument { return this.#transforms.reduce((d, transform) => transform(d), doc) }
}

/** @fastify/swagger's options: the token endpoint is where the UI's "Authorize" gets a token (client credentials). */
export function openApiOptions (issuer: string, scopes: Readonly<Record<string, string>>, transforms: OpenApiTransforms = new OpenApiTransforms()): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'geotoken', version: '0.1.0', description: 'OAuth 2.0 token service and org-scoped OGC API - Features. Authorize with a client\'s id and secret (client credentials), then try the feature routes.' },
      servers: [{ url: issuer }],
      components: {
        securitySchemes: {
          oauth2: { type: 'oauth2', description: 'client credentials (RFC 6749 §4.4): a client id and secret from add-client or demo-credentials.json', flows: { clientCredentials: { tokenUrl: `${issuer}/oauth/token`, scopes: { ...scopes } } } },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'an access token from POST /oauth/token' }
        }
      }
    },
    // Lazily, when the document is first asked for: the parts (the feature store and its collections) open after this plugin.
    transformObject: document => transforms.apply(('openapiObject' in document ? document.openapiObject : document.swaggerObject) as OpenApiDocument)
  }
}

export async function addDocsUi (app: FastifyInstance, opts: { secureOrigin: boolean }): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, defaultModelsExpandDepth: 0 },
    // The UI's own CSP (hashes of its inline script and style) replaces the API's `default-src 'none'` on /docs/*.
    staticCSP: true,
    // Over plain http (local development) upgrade-insecure-requests would send the UI's requests to https.
    transformStaticCSP: header => opts.secureOrigin ? header : header.replace(/\s*upgrade-insecure-requests;?/, '')
  })
}
