// A StoreFactory (test/features/store-contract.ts) for the PostGIS backend: one throwaway cluster per test process,
// and per call a fresh schema with one table per seed collection (geotoken's own shape), the prepare SQL applied, the
// seed loaded in order, and a PgFeatureStore connected as the unprivileged role. Also usable as
// TEST_FEATURE_BACKEND=./test/helpers/postgis-backend.ts for the HTTP suites (test/helpers/app.ts).
import tap from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PgFeatureStore } from '../../src/features/postgis/pg-store.js'
import { parseCollections } from '../../src/features/postgis/collections.js'
import { prepareSql } from '../../src/features/postgis/prepare.js'
import type { Log } from '../../src/shared/log.js'
import type { ContractSeed, StoreFactory } from '../features/store-contract.js'
import { startCluster, type Cluster } from './postgis.js'
import { ROLE, ROLE_PASSWORD } from './postgis-fixtures.js'

const quiet = { info: () => {}, warn: () => {}, error: () => {} } as unknown as Log

let clusterOnce: Promise<Cluster> | undefined
/** The cluster of this test process, started on first use and stopped when the process's tests end. */
export async function sharedCluster (): Promise<Cluster> {
  clusterOnce ??= startCluster(tap)
  return await clusterOnce
}

const SCHEMA = 'contract'
const tableName = (collection: string): string => collection.replace(/[^A-Za-z0-9_]/g, '_').toLowerCase()

/** The collections file entries for `seed`: id text, first-insertion order (seq), properties kept as written (json). */
export function seedCollections (seed: ContractSeed): unknown[] {
  return seed.collections.map(c => ({
    id: c.id, title: c.title, description: c.description, table: `${SCHEMA}.${tableName(c.id)}`,
    idColumn: 'id', orderColumn: 'seq', geometryColumn: 'geom', orgColumn: 'org', propertiesColumn: 'props',
    ...(c.temporalProperty === undefined ? {} : { temporalColumn: c.temporalProperty }), queryables: c.queryables
  }))
}

/** Drops and recreates the schema's tables for `seed` and loads its features, as the superuser. */
export async function loadSeed (cluster: Cluster, seed: ContractSeed, collections: unknown[]): Promise<void> {
  const ddl = [`drop schema if exists ${SCHEMA} cascade`, `create schema ${SCHEMA}`]
  for (const c of seed.collections) {
    const time = c.temporalProperty === undefined ? '' : `, "${c.temporalProperty}" timestamptz`
    ddl.push(`create table ${SCHEMA}.${tableName(c.id)} (id text primary key, seq bigint generated always as identity, org text not null,
      geom geometry(Geometry, 4326)${time}, props json not null default '{}')`)
  }
  await cluster.admin(ddl.join(';\n'))
  for (const { org, collection, feature } of seed.features) {
    const def = seed.collections.find(c => c.id === collection)
    const { org: _org, ...properties } = feature.properties ?? {}
    const temporal = def?.temporalProperty
    const time = temporal === undefined ? undefined : properties[temporal]
    await cluster.admin(`insert into ${SCHEMA}.${tableName(collection)} (id, org, geom, props${temporal === undefined ? '' : `, "${temporal}"`})
      values ($1, $2, ST_GeomFromGeoJSON($3), $4${temporal === undefined ? '' : ', $5'})`,
    [feature.id, org, feature.geometry === null ? null : JSON.stringify(feature.geometry), JSON.stringify(properties), ...(temporal === undefined ? [] : [typeof time === 'string' ? time : null])])
  }
  await cluster.admin(prepareSql(parseCollections({ collections }, 'seed'), { role: ROLE, password: ROLE_PASSWORD }))
}

/** How many stores this process opened: a suite run through TEST_FEATURE_BACKEND shows it really ran here. */
export const opened = { count: 0 }

const openPostgis: StoreFactory = async (t, seed) => {
  opened.count++
  const cluster = await sharedCluster()
  const collections = seedCollections(seed)
  await loadSeed(cluster, seed, collections)
  const dir = mkdtempSync(join(tmpdir(), 'geotoken-collections-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'collections.json')
  // A seed without collections: a file cannot list none, so a collection on a table nobody writes to stands in.
  writeFileSync(file, JSON.stringify({ collections }))
  return await PgFeatureStore.open({ url: cluster.urlFor(ROLE, ROLE_PASSWORD), collectionsFile: file, poolMax: 8, timeoutMs: 5000, probeMs: 0, log: quiet })
}
export default openPostgis
