// Owns the links of OGC API responses: self, alternate, next and prev, as absolute URLs on the public base URL.
import type { Link } from './schemas.js'

export type { Link }

export const GEOJSON = 'application/geo+json'
export const JSON_TYPE = 'application/json'
export const OPENAPI = 'application/vnd.oai.openapi+json;version=3.0'

/**
 * `k=v&…` with each part percent-encoded: what a client's query parser reads back as the same strings.
 * URLSearchParams was a tenth of the items route's CPU (three of them per page); this is the same job without it.
 */
function queryString (params: Readonly<Record<string, string>>): string {
  let search = ''
  for (const key in params) search += `${search === '' ? '' : '&'}${encodeURIComponent(key)}=${encodeURIComponent(params[key] as string)}`
  return search
}

export function url (base: string, path: string, params?: Readonly<Record<string, string>>): string {
  const search = params === undefined ? '' : queryString(params)
  return `${base}${path}${search === '' ? '' : `?${search}`}`
}

/** Paging links keep every other parameter of the request, so walking `next` reproduces the same query. */
export function pageLinks (base: string, path: string, raw: Readonly<Record<string, string>>, offset: number, limit: number, returned: number, matched: number): Link[] {
  const { offset: _offset, limit: _limit, ...kept } = raw
  const keptSearch = queryString(kept)
  const at = (o: number): string => `${base}${path}?${keptSearch === '' ? '' : `${keptSearch}&`}offset=${o}&limit=${limit}`
  const links: Link[] = [{ href: url(base, path, raw), rel: 'self', type: GEOJSON, title: 'this page' }]
  if (offset + returned < matched) links.push({ href: at(offset + limit), rel: 'next', type: GEOJSON, title: 'next page' })
  if (offset > 0) links.push({ href: at(Math.max(0, offset - limit)), rel: 'prev', type: GEOJSON, title: 'previous page' })
  return links
}
