// Owns the items query: turns raw query parameters into an ItemsQuery, naming any bad parameter (OGC 17-069r4 §7.15).
import { badParameter } from '../shared/errors.js'
import type { Bbox, CollectionDef, ItemsQuery } from './store.js'

export const DEFAULT_LIMIT = 10
/** Documented maximum: a larger `limit` is answered with at most this many features (OGC permission /per/core/limit-response). */
export const MAX_LIMIT = 1000
const CRS84 = 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'
const STANDARD = new Set(['bbox', 'bbox-crs', 'limit', 'offset', 'datetime', 'f'])

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))?$/

function single (name: string, value: unknown): string {
  if (typeof value !== 'string') throw badParameter(name, 'must be given once')
  return value
}

function integer (name: string, raw: string, min: number): number {
  if (!/^\d+$/.test(raw)) throw badParameter(name, `must be an integer >= ${min}, got ${JSON.stringify(raw)}`)
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) throw badParameter(name, `must be an integer >= ${min}, got ${JSON.stringify(raw)}`)
  return value
}

export function parseBbox (raw: string): Bbox {
  const parts = raw.split(',')
  const numbers = parts.map(p => p.trim() === '' ? NaN : Number(p))
  if ((numbers.length !== 4 && numbers.length !== 6) || numbers.some(n => !Number.isFinite(n))) {
    throw badParameter('bbox', 'must be 4 or 6 comma-separated numbers: minLon,minLat,maxLon,maxLat')
  }
  const [minX, minY, maxX, maxY] = (numbers.length === 4 ? numbers : [numbers[0], numbers[1], numbers[3], numbers[4]]) as Bbox
  if ([minX, maxX].some(x => x < -180 || x > 180)) throw badParameter('bbox', 'longitudes must be within [-180, 180]')
  if ([minY, maxY].some(y => y < -90 || y > 90)) throw badParameter('bbox', 'latitudes must be within [-90, 90]')
  if (minY > maxY) throw badParameter('bbox', 'the southern latitude must not exceed the northern one')
  return [minX, minY, maxX, maxY]
}

function instant (raw: string, end: boolean): number | null {
  if (raw === '..' || raw === '') return null
  const m = RFC3339.exec(raw)
  if (m === null) throw badParameter('datetime', `${JSON.stringify(raw)} is not an RFC 3339 date or date-time, or ".."`)
  const dateOnly = m[4] === undefined
  // Date.parse rolls impossible dates over (Feb 30 → Mar 2): check the calendar ourselves.
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate()
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || (!dateOnly && (h > 23 || mi > 59 || s > 59))) {
    throw badParameter('datetime', `${JSON.stringify(raw)} is not a valid date`)
  }
  const ms = Date.parse(dateOnly ? `${raw}T00:00:00Z` : raw)
  if (Number.isNaN(ms)) throw badParameter('datetime', `${JSON.stringify(raw)} is not a valid date`)
  // A date alone covers its whole (UTC) day.
  return dateOnly && end ? ms + 86_399_999 : ms
}

/** `datetime`: an instant, or an interval `start/end` where either end may be open (".." or empty). */
export function parseDatetime (raw: string): [number | null, number | null] {
  const parts = raw.split('/')
  if (parts.length === 1) {
    const start = instant(raw, false)
    if (start === null) throw badParameter('datetime', 'an instant cannot be open')
    return [start, instant(raw, true)]
  }
  if (parts.length !== 2) throw badParameter('datetime', 'must be an instant or an interval start/end')
  const [start, end] = [instant(parts[0] as string, false), instant(parts[1] as string, true)]
  if (start === null && end === null) throw badParameter('datetime', 'both ends of the interval are open')
  if (start !== null && end !== null && start > end) throw badParameter('datetime', 'the interval ends before it starts')
  return [start, end]
}

/** Validates every parameter against the standard ones and the collection's queryables; unknown ones are refused. */
export function parseItemsQuery (raw: Record<string, unknown>, def: CollectionDef): ItemsQuery {
  const query: ItemsQuery = { properties: {}, limit: DEFAULT_LIMIT, offset: 0 }
  const queryables = new Set(def.queryables)
  for (const [name, value] of Object.entries(raw)) {
    if (!STANDARD.has(name) && !queryables.has(name)) {
      throw badParameter(name, `unknown parameter; this collection accepts ${[...STANDARD, ...queryables].join(', ')}`)
    }
    const text = single(name, value)
    switch (name) {
      case 'bbox': query.bbox = parseBbox(text); break
      case 'bbox-crs': if (text !== CRS84) throw badParameter(name, `only ${CRS84} is supported`); break
      case 'limit': query.limit = Math.min(integer(name, text, 1), MAX_LIMIT); break
      case 'offset': query.offset = integer(name, text, 0); break
      case 'datetime':
        if (def.temporalProperty === undefined) throw badParameter(name, 'this collection has no temporal property')
        query.datetime = parseDatetime(text)
        break
      case 'f': if (text !== 'json' && text !== 'geojson') throw badParameter(name, 'only json and geojson are served'); break
      default: query.properties[name] = text
    }
  }
  return query
}
