// CLI: deterministically generate data/seed.geojson, the demo features of orgs acme and globex in collections sites and networks.
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname } from 'node:path'
import { validateFeature, geometryBbox, type Geometry, type Position } from '../src/features/geojson.js'

export const SEED = 20240101
export const SEED_PATH = fileURLToPath(new URL('../data/seed.geojson', import.meta.url))

type Org = 'acme' | 'globex'
type Box = readonly [number, number, number, number]

/** How many features each org gets in each collection (55% acme, 45% globex). */
export const COUNTS: Readonly<Record<'sites' | 'networks', Record<Org, number>>> = {
  sites: { acme: 1100, globex: 900 },
  networks: { acme: 550, globex: 450 }
}
const HOME: Record<Org, Box> = { acme: [2, 45, 10, 52], globex: [-80, 38, -70, 45] }
export const OVERLAP: Box = [5, 47, 7, 49]
const PLACES: Record<Org, string[]> = {
  acme: ['Lyon', 'Basel', 'Dijon', 'Metz', 'Nancy', 'Zurich', 'Geneva', 'Strasbourg', 'Mulhouse', 'Besancon', 'Luxembourg', 'Lille'],
  globex: ['Albany', 'Boston', 'Hartford', 'Newark', 'Scranton', 'Syracuse', 'Trenton', 'Worcester', 'Providence', 'Buffalo', 'Burlington', 'Portland']
}
const FROM = Date.UTC(2024, 0, 1)
const TO = Date.UTC(2026, 5, 30, 23, 59, 59)

export const COLLECTIONS = [
  {
    id: 'sites',
    title: 'Sites',
    description: 'Point locations of the depots, offices, plants and yards operated by each organization.',
    temporalProperty: 'observed_at',
    queryables: ['kind', 'name']
  },
  {
    id: 'networks',
    title: 'Networks',
    description: 'Pipelines and cables (LineStrings) and parcels and zones (Polygons) operated by each organization.',
    temporalProperty: 'observed_at',
    queryables: ['kind', 'name']
  }
]

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const round6 = (n: number): number => Math.round(n * 1e6) / 1e6
const intersects = (a: Box, b: Box): boolean => a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
const inside = (a: Box, b: Box): boolean => a[0] >= b[0] && a[1] >= b[1] && a[2] <= b[2] && a[3] <= b[3]

/** Twice the signed area of a closed ring (shoelace); positive means counter-clockwise. */
function signedArea2 (ring: Position[]): number {
  let s = 0
  for (let i = 0; i + 1 < ring.length; i++) {
    const [x1, y1] = ring[i] as [number, number]
    const [x2, y2] = ring[i + 1] as [number, number]
    s += x1 * y2 - x2 * y1
  }
  return s
}

export function makeSeed (seed = SEED): { type: 'FeatureCollection', collections: typeof COLLECTIONS, features: Array<Record<string, unknown>> } {
  const rnd = mulberry32(seed)
  const between = (lo: number, hi: number): number => lo + (hi - lo) * rnd()
  const int = (lo: number, hi: number): number => Math.floor(between(lo, hi + 1)) // inclusive
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const observedAt = (): string => new Date(Math.floor(between(FROM, TO + 1) / 1000) * 1000).toISOString().replace('.000Z', 'Z')

  const point = (): Geometry => ({ type: 'Point', coordinates: [0, 0] })
  const line = (): Geometry => {
    const n = int(3, 8)
    const coords: Position[] = [[0, 0]]
    let heading = between(0, 2 * Math.PI)
    for (let i = 1; i < n; i++) {
      heading += between(-0.6, 0.6)
      const step = between(0.01, 0.05)
      const [x, y] = coords[i - 1] as [number, number]
      coords.push([x + step * Math.cos(heading), y + step * Math.sin(heading)])
    }
    return { type: 'LineString', coordinates: coords }
  }
  const polygon = (): Geometry => {
    const n = int(4, 7)
    const r = between(0.005, 0.04)
    const ring: Position[] = []
    // Increasing angles around the centre: star-shaped, simple, counter-clockwise (RFC 7946 §3.1.6).
    for (let i = 0; i < n; i++) {
      const angle = (2 * Math.PI * (i + between(-0.3, 0.3))) / n
      const radius = r * between(0.6, 1)
      ring.push([radius * Math.cos(angle), radius * Math.sin(angle)])
    }
    return { type: 'Polygon', coordinates: [ring] }
  }

  /** Moves a geometry built around (0, 0) to a random spot whose whole bbox lies in `within` and, if given, outside `avoid`. */
  const place = (make: () => Geometry, within: Box, avoid: Box | null): Geometry => {
    for (;;) {
      const g = make()
      const [x0, y0, x1, y1] = geometryBbox(g) as [number, number, number, number]
      const dx = between(within[0] - x0, within[2] - x1)
      const dy = between(within[1] - y0, within[3] - y1)
      const shift = (p: Position): Position => [round6((p[0] as number) + dx), round6((p[1] as number) + dy)]
      if (g.type === 'Point') g.coordinates = shift(g.coordinates)
      else if (g.type === 'LineString') g.coordinates = g.coordinates.map(shift)
      else if (g.type === 'Polygon') {
        const ring = (g.coordinates[0] as Position[]).map(shift)
        g.coordinates = [[...ring, [...(ring[0] as Position)]]]
      }
      const box = geometryBbox(g) as Box
      if (inside(box, within) && (avoid === null || !intersects(box, avoid))) return g
    }
  }

  const features: Array<Record<string, unknown>> = []
  for (const collection of ['sites', 'networks'] as const) {
    for (const org of ['acme', 'globex'] as const) {
      for (let i = 1; i <= COUNTS[collection][org]; i++) {
        // Exactly every 10th feature of each org goes in the shared box; the rest stay out of it.
        const shared = i % 10 === 0
        const within = shared ? OVERLAP : HOME[org]
        const avoid = shared ? null : OVERLAP
        const kind = collection === 'sites' ? pick(['depot', 'office', 'plant', 'yard']) : pick(['pipeline', 'cable', 'parcel', 'zone'])
        const make = collection === 'sites' ? point : kind === 'pipeline' || kind === 'cable' ? line : polygon
        const geometry = place(make, within, avoid)
        const label = kind.charAt(0).toUpperCase() + kind.slice(1)
        const feature = {
          type: 'Feature',
          id: `${collection}-${org}-${String(i).padStart(4, '0')}`,
          org,
          collection,
          geometry,
          properties: { name: `${label} ${pick(PLACES[org])} ${int(1, 99)}`, kind, observed_at: observedAt() }
        }
        validateFeature(feature)
        if (geometry.type === 'Polygon' && signedArea2(geometry.coordinates[0] as Position[]) <= 0) {
          throw new Error(`${feature.id}: exterior ring is not counter-clockwise`)
        }
        features.push(feature)
      }
    }
  }
  return { type: 'FeatureCollection', collections: COLLECTIONS, features }
}

/** The exact bytes written to data/seed.geojson. */
export const seedText = (seed = SEED): string => `${JSON.stringify(makeSeed(seed))}\n`

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = seedText()
  await mkdir(dirname(SEED_PATH), { recursive: true })
  await writeFile(SEED_PATH, text)
  console.log(`wrote ${SEED_PATH}: ${makeSeed().features.length} features, ${Buffer.byteLength(text)} bytes`)
}
