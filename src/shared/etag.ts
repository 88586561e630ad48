// Owns RFC 9110 §13.1 entity-tag comparisons for conditional requests.

/** If-None-Match (§13.1.2): weak comparison; a list of tags or "*". */
export function noneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some(tag => tag.trim().replace(/^W\//, '') === etag)
}

/** If-Match (§13.1.1): strong comparison, so a weak tag never matches; "*" matches any current representation. */
export function ifMatchAllows (header: string | undefined, etag: string): boolean {
  if (header === undefined) return true
  if (header.trim() === '*') return true
  return header.split(',').some(tag => tag.trim() === etag)
}
