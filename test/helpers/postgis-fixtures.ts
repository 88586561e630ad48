// Fixture tables on a throwaway cluster: the small seed in geotoken's own shape (geo.sites, geo.networks) and an
// "existing" table in its own shape (legacy.buildings: integer ids, a tenant column, EPSG:3857, extra columns).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseCollections } from '../../src/features/postgis/collections.js'
import { prepareSql } from '../../src/features/postgis/prepare.js'
import { smallSeed } from './app.js'
import type { Cluster } from './postgis.js'

export const ROLE = 'geotoken'
export const ROLE_PASSWORD = 'geotoken-role-test-password'

/** The small seed's collections (test/helpers/app.ts COLLECTIONS), served from tables. */
export const SEED_COLLECTIONS = [
  { id: 'sites', title: 'Sites', description: 'points', table: 'geo.sites', idColumn: 'id', geometryColumn: 'geom', orgColumn: 'org', temporalColumn: 'observed_at', propertiesColumn: 'props', orderColumn: 'seq', queryables: ['kind', 'name'] },
  { id: 'networks', title: 'Networks', description: 'lines and polygons', table: 'geo.networks', idColumn: 'id', geometryColumn: 'geom', orgColumn: 'org', temporalColumn: 'observed_at', propertiesColumn: 'props', orderColumn: 'seq', queryables: ['kind'] }
]

export const BUILDINGS = {
  id: 'buildings', title: 'Buildings', description: 'an existing table, published as it is', table: 'legacy.buildings',
  idColumn: 'gid', geometryColumn: 'the_geom', orgColumn: 'tenant', temporalColumn: 'surveyed_on', properties: ['name', 'kind', 'height', 'surveyed_on'], queryables: ['kind']
}

/** acme's buildings in Paris and Brussels, globex's in New York and Fiji (east and west of the antimeridian). */
export const BUILDING_ROWS = [
  { tenant: 'acme', lon: 2.2945, lat: 48.8584, name: 'tower', kind: 'landmark', height: 330, surveyed_on: '2024-05-01' },
  { tenant: 'acme', lon: 4.3517, lat: 50.8503, name: 'depot', kind: 'warehouse', height: 12.5, surveyed_on: '2025-02-10' },
  { tenant: 'globex', lon: -73.9857, lat: 40.7484, name: 'empire', kind: 'landmark', height: 443, surveyed_on: '2023-11-20' },
  { tenant: 'globex', lon: 179.5, lat: -17.8, name: 'east-of-180', kind: 'hut', height: 3, surveyed_on: '2025-07-01' },
  { tenant: 'globex', lon: -179.5, lat: -17.9, name: 'west-of-180', kind: 'hut', height: 4, surveyed_on: '2025-07-02' }
]

const TABLES = `
create schema if not exists geo;
create table if not exists geo.sites (id text primary key, seq bigint generated always as identity, org text not null,
  geom geometry(Geometry, 4326), observed_at timestamptz, props json not null default '{}');
create table if not exists geo.networks (like geo.sites including all);
create schema if not exists legacy;
create table if not exists legacy.buildings (gid serial primary key, tenant varchar(32) not null, the_geom geometry(Point, 3857),
  name text, kind text, height numeric(6,1), surveyed_on date, internal_note text default 'not published');
`

/** (Re)creates the fixture tables with their rows, as the superuser: each test starts from the same data. */
export async function resetFixtures (cluster: Cluster): Promise<void> {
  await cluster.admin(TABLES)
  await cluster.admin('truncate geo.sites, geo.networks, legacy.buildings restart identity')
  const seed = JSON.parse(smallSeed()) as { features: Array<{ id: string, org: string, collection: string, geometry: unknown, properties: Record<string, unknown> }> }
  for (const f of seed.features) {
    const at = f.properties.observed_at
    await cluster.admin(`insert into geo.${f.collection === 'sites' ? 'sites' : 'networks'} (id, org, geom, observed_at, props) values ($1, $2, ST_GeomFromGeoJSON($3), $4, $5)`,
      [f.id, f.org, JSON.stringify(f.geometry), at, JSON.stringify(f.properties)])
  }
  for (const b of BUILDING_ROWS) {
    await cluster.admin('insert into legacy.buildings (tenant, the_geom, name, kind, height, surveyed_on) values ($1, ST_Transform(ST_SetSRID(ST_MakePoint($2, $3), 4326), 3857), $4, $5, $6, $7)',
      [b.tenant, b.lon, b.lat, b.name, b.kind, b.height, b.surveyed_on])
  }
}

/** Creates the tables, loads the rows, applies the prepare SQL for `collections`, writes the collections file. */
export async function loadFixtures (cluster: Cluster, dir: string, collections: unknown[] = SEED_COLLECTIONS): Promise<{ file: string, url: string }> {
  await resetFixtures(cluster)
  const file = join(dir, 'collections.json')
  writeFileSync(file, JSON.stringify({ collections }, null, 2))
  await cluster.admin(prepareSql(parseCollections({ collections }, file), { role: ROLE, password: ROLE_PASSWORD }))
  return { file, url: cluster.urlFor(ROLE, ROLE_PASSWORD) }
}
