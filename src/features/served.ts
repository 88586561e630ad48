// Owns the served representation of a stored feature and its ETag: every backend serves the same bytes for the same
// feature, so a client's ETag means the same thing whichever backend answered it.
import { createHash } from 'node:crypto'
import type { Feature } from './geojson.js'

/** Strong ETag of a served representation: a hash of its exact bytes. */
export const etagOf = (json: string): string => `"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`

/**
 * The feature as served: `id` set, `properties.org` stamped from the writer's org (never taken from the body).
 * Returns the properties too, for a backend that indexes them (the temporal property).
 */
export function served (org: string, id: string, input: Feature): { json: string, properties: Record<string, unknown> } {
  // Any org in the body is dropped first so the stamped one always sits last: the served JSON (and its ETag)
  // is then the same whether the feature came from a request, the journal or a compacted snapshot.
  const { org: _ignored, ...own } = input.properties ?? {}
  const properties: Record<string, unknown> = { ...own, org }
  return { json: JSON.stringify({ type: 'Feature', id, geometry: input.geometry, properties }), properties }
}
