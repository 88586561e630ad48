// Owns the feature API's part of the OpenAPI document: the security each operation declares and one items path per
// collection. The document's frame (security schemes `oauth2` and `bearer`, the UI) is ops/docs.ts'.
import type { OpenApiDocument } from '../ops/docs.js'
import type { CollectionDef } from './store.js'

/** What the feature API's operations declare: an OAuth 2.0 client-credentials token, or a bearer token pasted in. */
type Security = ReadonlyArray<Readonly<Record<string, readonly string[]>>>
export const readSecurity: Security = [{ oauth2: ['features:read'] }, { bearer: [] }]
export const writeSecurity: Security = [{ oauth2: ['features:write'] }, { bearer: [] }]

const ITEMS = '/features/collections/{collectionId}/items'

type Operation = { parameters?: Array<{ name: string, in: string }>, summary?: string, description?: string, [k: string]: unknown }

/**
 * One items path per collection (OGC API - Features §7.15.8 allows it), so the UI offers each collection's
 * queryables as fields: the generic path cannot, since they differ by collection.
 */
export function withCollectionPaths (doc: OpenApiDocument, collections: readonly CollectionDef[]): OpenApiDocument {
  const generic = doc.paths?.[ITEMS]?.get as Operation | undefined
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
