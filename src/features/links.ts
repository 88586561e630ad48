// Owns the links of OGC API responses: self, alternate, next and prev, as absolute URLs on the public base URL.
export interface Link { href: string, rel: string, type?: string, title?: string }

export const GEOJSON = 'application/geo+json'
export const JSON_TYPE = 'application/json'
export const OPENAPI = 'application/vnd.oai.openapi+json;version=3.0'

export function url (base: string, path: string, params?: Record<string, string>): string {
  const search = params === undefined ? '' : new URLSearchParams(params).toString()
  return `${base}${path}${search === '' ? '' : `?${search}`}`
}

/** Paging links keep every other parameter of the request, so walking `next` reproduces the same query. */
export function pageLinks (base: string, path: string, raw: Record<string, string>, offset: number, limit: number, returned: number, matched: number): Link[] {
  const at = (o: number): string => url(base, path, { ...raw, offset: String(o), limit: String(limit) })
  const links: Link[] = [{ href: url(base, path, raw), rel: 'self', type: GEOJSON, title: 'this page' }]
  if (offset + returned < matched) links.push({ href: at(offset + limit), rel: 'next', type: GEOJSON, title: 'next page' })
  if (offset > 0) links.push({ href: at(Math.max(0, offset - limit)), rel: 'prev', type: GEOJSON, title: 'previous page' })
  return links
}
