import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { startCluster } from '../test/helpers/postgis.js'
const cleanups: Array<() => Promise<void> | void> = []
const cluster = await startCluster({ teardown: fn => { cleanups.push(fn as () => Promise<void>) } })
await cluster.admin(`create table p (id bigint generated always as identity primary key, org text not null, geom geometry(Point, 4326), kind text, at timestamptz);
  insert into p (org, geom, kind, at) select 'acme', ST_SetSRID(ST_MakePoint(random() * 360 - 180, random() * 170 - 85), 4326), 'site', '2025-01-01T00:00:00Z' from generate_series(1, 200000);
  vacuum analyze p`)
const parts = `case when t.kind is not null then '"kind":' || to_json(t.kind)::text end, case when t.at is not null then '"at":' || to_json(t.at)::text end, '"org":' || to_json(t.org::text)::text`
const variants: Record<string, string> = {
  pipes: `('{"type":"Feature","id":' || '"' || t.id::text || '"' || ',"geometry":' || coalesce(ST_AsGeoJSON(t.geom, 15), 'null') || ',"properties":{' || concat_ws(',', ${parts}) || '}}')`,
  concat: `concat('{"type":"Feature","id":"', t.id::text, '","geometry":', coalesce(ST_AsGeoJSON(t.geom, 15), 'null'), ',"properties":{', concat_ws(',', ${parts}), '}}')`,
  nojson: `t.id::text`,
  geomonly: `ST_AsGeoJSON(t.geom, 15)`,
  propsonly: `concat_ws(',', ${parts})`
}
const client = new pg.Client({ connectionString: cluster.adminUrl })
await client.connect()
const same = await client.query(`select count(*) filter (where ${variants.pipes} is distinct from ${variants.concat}) as d from p t`)
console.log('rows where the two differ:', same.rows[0])
for (let round = 0; round < 3; round++) {
  for (const [name, expr] of Object.entries(variants)) {
    const t0 = performance.now()
    await client.query(`select length(string_agg(${expr}, chr(30))) from p t`)
    console.log(round, name, ((performance.now() - t0) * 1000 / 200000).toFixed(3), 'µs per row')
  }
}
await client.end()
for (const fn of cleanups.reverse()) await fn()
