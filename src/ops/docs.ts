// Owns the API documentation: the OpenAPI document's security and per-collection paths, and the browsable UI at /docs.
import swaggerUi from '@fastify/swagger-ui'
import type { SwaggerOptions } from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import type { CollectionDef } from '../features/store.js'

/** What the feature API's operations declare: an OAuth 2.0 client-credentials token, or a bearer token pasted in. */
type Security = ReadonlyArray<Readonly<Record<string, readonly string[]>>>
export const readSecurity: Security = [{ oauth2: ['features:read'] }, { bearer: [] }]
export const writeSecurity: Security = [{ oauth2: ['features:write'] }, { bearer: [] }]

const ITEMS = '/features/collections/{collectionId}/items'

type Operation = { parameters?: Array<{ name: string, in: string }>, summary?: string, description?: string, [k: string]: unknown }
type Document = { paths?: Record<string, Record<string, Operation>>, [k: string]: unknown }

/**
 * One items path per collection (OGC API - Features §7.15.8 allows it), so the UI offers each collection's
 * queryables as fields: the generic path cannot, since they differ by collection.
 */
export function withCollectionPaths (doc: Document, collections: readonly CollectionDef[]): Document {
  const generic = doc.paths?.[ITEMS]?.get
  if (generic === undefined) return doc
  const paths: Record<string, Record<string, Operation>> = { ...doc.paths }
  for (const c of collections) {
    const parameters = [
      ...(generic.parameters ?? []).filter(p => p.in !== 'path'),
      ...c.queryables.map(q => ({ name: q, in: 'query', required: false, schema: { type: 'string' }, description: `features whose property ${q} equals this value` }))
    ]
    paths[`/features/collections/${encodeURIComponent(c.id)}/items`] = {
      get: { ...generic, operationId: undefined, summary: `${c.title}: features of your organization`, description: `${c.description} Filters: ${c.queryables.join(', ')}.`, parameters }
    }
  }
  return { ...doc, paths }
}

/** @fastify/swagger's options: the token endpoint is where the UI's "Authorize" gets a token (client credentials). */
export function openApiOptions (issuer: string, scopes: Readonly<Record<string, string>>, collections: () => readonly CollectionDef[]): SwaggerOptions {
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
    // Lazily, when the document is first asked for: the feature store (and its collections) opens after this plugin.
    transformObject: document => withCollectionPaths(('openapiObject' in document ? document.openapiObject : document.swaggerObject) as Document, collections())
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
