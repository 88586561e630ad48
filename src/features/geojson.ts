// Owns RFC 7946 validation of one incoming GeoJSON Feature and the 2D bounding box of its geometry.

export type Position = number[]
export interface Point { type: 'Point', coordinates: Position, bbox?: number[] }
export interface MultiPoint { type: 'MultiPoint', coordinates: Position[], bbox?: number[] }
export interface LineString { type: 'LineString', coordinates: Position[], bbox?: number[] }
export interface MultiLineString { type: 'MultiLineString', coordinates: Position[][], bbox?: number[] }
export interface Polygon { type: 'Polygon', coordinates: Position[][], bbox?: number[] }
export interface MultiPolygon { type: 'MultiPolygon', coordinates: Position[][][], bbox?: number[] }
/** Every geometry but GeometryCollection, which must not nest (RFC 7946 §3.1.8 says SHOULD NOT; we reject it). */
export type SimpleGeometry = Point | MultiPoint | LineString | MultiLineString | Polygon | MultiPolygon
export interface GeometryCollection { type: 'GeometryCollection', geometries: SimpleGeometry[], bbox?: number[] }
export type Geometry = SimpleGeometry | GeometryCollection

export interface Feature {
  type: 'Feature'
  id?: string | number
  geometry: Geometry | null
  properties: Record<string, unknown> | null
  bbox?: number[]
}

export interface Limits { maxPositions: number, maxDepth: number }
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({ maxPositions: 100_000, maxDepth: 8 })

/** The first problem found in a Feature; `path` is a JSON pointer (RFC 6901) to the offending value. */
export class GeoJsonInvalid extends Error {
  readonly path: string
  constructor (path: string, problem: string) {
    super(`${path}: ${problem}`)
    this.name = 'GeoJsonInvalid'
    this.path = path
  }
}

/** How many array levels sit above the positions in `coordinates`, per geometry type. */
const LEVELS = { Point: 0, MultiPoint: 1, LineString: 1, MultiLineString: 2, Polygon: 2, MultiPolygon: 3 } as const
type SimpleType = keyof typeof LEVELS

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Names a value for an error message without serializing it (it may be huge or deeply nested). */
function describe (v: unknown): string {
  if (Array.isArray(v)) return 'an array'
  if (v === null) return 'null'
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return typeof v === 'object' ? 'an object' : typeof v
}

function checkBbox (v: unknown, path: string): void {
  if (!Array.isArray(v) || (v.length !== 4 && v.length !== 6)) throw new GeoJsonInvalid(path, 'must be an array of 4 or 6 numbers')
  v.forEach((n, i) => {
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new GeoJsonInvalid(`${path}/${i}`, `must be a finite number, got ${describe(n)}`)
  })
}

class Walker {
  count = 0
  readonly limits: Limits
  constructor (limits: Limits) { this.limits = limits }

  enter (depth: number, path: string): void {
    if (depth > this.limits.maxDepth) throw new GeoJsonInvalid(path, `nested deeper than ${this.limits.maxDepth} levels`)
  }

  position (v: unknown, path: string, depth: number): void {
    this.enter(depth, path)
    if (!Array.isArray(v)) throw new GeoJsonInvalid(path, `expected a position (an array of 2 or 3 numbers), got ${describe(v)}`)
    if (++this.count > this.limits.maxPositions) throw new GeoJsonInvalid(path, `more than ${this.limits.maxPositions} positions`)
    if (v.length !== 2 && v.length !== 3) throw new GeoJsonInvalid(path, `a position needs 2 or 3 numbers, has ${v.length} element${v.length === 1 ? '' : 's'}`)
    v.forEach((n: unknown, i) => {
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new GeoJsonInvalid(`${path}/${i}`, `must be a finite number, got ${describe(n)}`)
    })
    const [lon, lat] = v as [number, number]
    if (lon < -180 || lon > 180) throw new GeoJsonInvalid(`${path}/0`, `longitude ${lon} is outside [-180, 180]`)
    if (lat < -90 || lat > 90) throw new GeoJsonInvalid(`${path}/1`, `latitude ${lat} is outside [-90, 90]`)
  }

  /** An array of `item`; `min` is [fewest elements, the message when there are fewer]. */
  list (v: unknown, path: string, depth: number, min: [number, string] | null, item: (x: unknown, p: string) => void): unknown[] {
    this.enter(depth, path)
    if (!Array.isArray(v)) throw new GeoJsonInvalid(path, `expected an array, got ${describe(v)}`)
    v.forEach((x: unknown, i) => { item(x, `${path}/${i}`) }) // elements first: a wrong nesting level is named as such
    if (min !== null && v.length < min[0]) throw new GeoJsonInvalid(path, min[1])
    return v
  }

  line (v: unknown, path: string, depth: number, min: number): void {
    this.list(v, path, depth, [min, `a LineString needs at least ${min} positions`], (p, pp) => { this.position(p, pp, depth + 1) })
  }

  ring (v: unknown, path: string, depth: number): void {
    const ring = this.list(v, path, depth, [4, 'a linear ring needs at least 4 positions'], (p, pp) => { this.position(p, pp, depth + 1) })
    const first = ring[0] as number[]
    const last = ring[ring.length - 1] as number[]
    if (first.length !== last.length || first.some((n, i) => n !== last[i])) {
      throw new GeoJsonInvalid(path, 'polygon ring is not closed (first and last positions differ)')
    }
  }

  polygon (v: unknown, path: string, depth: number, min: number): void {
    this.list(v, path, depth, [min, 'a polygon needs at least 1 linear ring'], (r, rp) => { this.ring(r, rp, depth + 1) })
  }

  /** Coordinates of a simple geometry; an empty top-level array is allowed (RFC 7946 §3.1). */
  coordinates (type: SimpleType, v: unknown, path: string, d: number): void {
    switch (type) {
      case 'Point': return this.position(v, path, d)
      case 'MultiPoint': return void this.list(v, path, d, null, (p, pp) => { this.position(p, pp, d + 1) })
      case 'LineString': return this.line(v, path, d, Array.isArray(v) && v.length === 0 ? 0 : 2)
      case 'MultiLineString': return void this.list(v, path, d, null, (l, lp) => { this.line(l, lp, d + 1, 2) })
      case 'Polygon': return this.polygon(v, path, d, 0)
      case 'MultiPolygon': return void this.list(v, path, d, null, (p, pp) => { this.polygon(p, pp, d + 1, 1) })
    }
  }

  geometry (v: unknown, path: string, depth: number, inCollection: boolean): void {
    if (!isObject(v)) throw new GeoJsonInvalid(path, `must be a geometry object${inCollection ? '' : ' or null'}, got ${describe(v)}`)
    if (v.bbox !== undefined) checkBbox(v.bbox, `${path}/bbox`)
    const type = v.type
    if (type === 'GeometryCollection') {
      if (inCollection) throw new GeoJsonInvalid(path, 'a GeometryCollection must not contain another GeometryCollection')
      if (!('geometries' in v)) throw new GeoJsonInvalid(`${path}/geometries`, 'is required for a GeometryCollection')
      this.list(v.geometries, `${path}/geometries`, depth + 1, null, (g, gp) => { this.geometry(g, gp, depth + 1, true) })
      return
    }
    if (typeof type !== 'string' || !Object.hasOwn(LEVELS, type)) throw new GeoJsonInvalid(`${path}/type`, `unknown geometry type ${describe(type)}`)
    if (!('coordinates' in v)) throw new GeoJsonInvalid(`${path}/coordinates`, `is required for a ${type}`)
    this.coordinates(type as SimpleType, v.coordinates, `${path}/coordinates`, depth + 1)
  }
}

/** Checks `value` is a Feature per RFC 7946 and returns it typed; throws GeoJsonInvalid on the first problem. */
export function validateFeature (value: unknown, limits: Partial<Limits> = DEFAULT_LIMITS): Feature {
  if (!isObject(value)) throw new GeoJsonInvalid('', `must be a Feature object, got ${describe(value)}`)
  if (value.type !== 'Feature') throw new GeoJsonInvalid('/type', 'must be "Feature"')
  const id = value.id
  if (id !== undefined && typeof id !== 'string' && !(typeof id === 'number' && Number.isFinite(id))) {
    throw new GeoJsonInvalid('/id', `must be a string or a finite number, got ${describe(id)}`)
  }
  if (!('geometry' in value)) throw new GeoJsonInvalid('/geometry', 'is required (null for a feature without a location)')
  if (value.properties !== undefined && value.properties !== null && !isObject(value.properties)) {
    throw new GeoJsonInvalid('/properties', 'must be an object or null')
  }
  if (value.bbox !== undefined) checkBbox(value.bbox, '/bbox')
  if (value.geometry !== null) {
    const walker = new Walker({
      maxPositions: limits.maxPositions ?? DEFAULT_LIMITS.maxPositions,
      maxDepth: limits.maxDepth ?? DEFAULT_LIMITS.maxDepth
    })
    walker.geometry(value.geometry, '/geometry', 0, false)
  }
  // A missing "properties" is read as null; copy rather than mutate the caller's object.
  return (value.properties === undefined ? { ...value, properties: null } : value) as unknown as Feature
}

/** [minLon, minLat, maxLon, maxLat] over every position (altitude ignored); null when there is no position. */
export function geometryBbox (geometry: Geometry | null): [number, number, number, number] | null {
  if (geometry === null) return null
  const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity]
  const add = (p: Position): void => {
    const [lon, lat] = p as [number, number]
    if (lon < box[0]) box[0] = lon
    if (lat < box[1]) box[1] = lat
    if (lon > box[2]) box[2] = lon
    if (lat > box[3]) box[3] = lat
  }
  const walk = (v: unknown, levels: number): void => {
    if (levels === 0) add(v as Position)
    else for (const x of v as unknown[]) walk(x, levels - 1)
  }
  for (const g of geometry.type === 'GeometryCollection' ? geometry.geometries : [geometry]) walk(g.coordinates, LEVELS[g.type])
  return box[0] === Infinity ? null : box
}
