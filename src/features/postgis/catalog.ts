// Owns the start-up check of the database against the collections file: tables, columns and types, the spatial
// index, and the tenancy guarantees (RLS form, the connecting role). Anything wrong stops the start (fail closed).
import type pg from 'pg'
import { CollectionsInvalid, TenancyUnsafe } from '../../shared/errors.js'
import { splitTable, type PublishedCollection } from './collections.js'
import { ORG_SETTING, qualified } from './identifiers.js'

export type IdKind = 'integer' | 'text' | 'uuid'

/** What the SQL needs to know about a published table, read from the catalog. */
export interface TableInfo {
  srid: number
  idKind: IdKind
  /** The id column's type name (int4, text, uuid, ...): the range an integer id must fall in. */
  idType: string
  /** The id column has a default (serial, identity, gen_random_uuid()): creates let the database choose. */
  idDefault: boolean
  /** Columns of `properties`, with their type names. */
  columnTypes: Record<string, string>
  hasSpatialIndex: boolean
  /** json or jsonb: the type a write casts the other properties to. */
  propertiesType: 'json' | 'jsonb' | null
}

interface Column { name: string, type: string, typeName: string, hasDefault: boolean, attnum: number }

const INTEGER = new Set(['int2', 'int4', 'int8'])
const TEXT = new Set(['text', 'varchar', 'bpchar'])
const TEMPORAL = new Set(['timestamptz', 'timestamp', 'date'])
/** Types a property column can be served as JSON from and written back through jsonb_populate_record. */
const SERVABLE = new Set([...INTEGER, ...TEXT, 'numeric', 'float4', 'float8', 'bool', 'jsonb', 'json', 'uuid', ...TEMPORAL])

/**
 * The expected policy expression, as pg_get_expr prints it: the organization column (cast to text when it is
 * varchar) equals current_setting('geotoken.org'), with or without missing_ok.
 */
function isOrgComparison (expr: string | null, orgColumn: string): boolean {
  if (expr === null) return false
  const col = `(?:"?${orgColumn}"?|\\("?${orgColumn}"?\\)::text)`
  const setting = `current_setting\\('${ORG_SETTING.replace('.', '\\.')}'::text(?:, true)?\\)`
  return new RegExp(`^\\(${col} = ${setting}\\)$`).test(expr) || new RegExp(`^\\(${setting} = ${col}\\)$`).test(expr)
}

export interface Inspection { tables: Map<string, TableInfo>, warnings: string[] }

/** Reads and checks every collection's table as the connecting role sees it; throws naming collection, table, column. */
export async function inspect (client: pg.ClientBase, collections: readonly PublishedCollection[], source: string): Promise<Inspection> {
  const role = (await client.query<{ rolname: string, rolsuper: boolean, rolbypassrls: boolean }>(
    'select rolname, rolsuper, rolbypassrls from pg_roles where rolname = current_user')).rows[0]
  if (role === undefined) throw new TenancyUnsafe('every collection', 'the connecting role is not in pg_roles')
  if (role.rolsuper) throw new TenancyUnsafe('every collection', `the role ${role.rolname} in DATABASE_URL is a superuser, and a superuser ignores row-level security: connect as the role npm run postgis-sql creates`)
  if (role.rolbypassrls) throw new TenancyUnsafe('every collection', `the role ${role.rolname} in DATABASE_URL has BYPASSRLS: ALTER ROLE ${role.rolname} NOBYPASSRLS`)
  const owned = (await client.query<{ what: string }>(
    `select relname as what from pg_class where relowner = (select oid from pg_roles where rolname = current_user)
     union all select nspname from pg_namespace where nspowner = (select oid from pg_roles where rolname = current_user) limit 3`)).rows
  if (owned.length > 0) {
    throw new TenancyUnsafe('every collection', `the role ${role.rolname} in DATABASE_URL owns ${owned.map(o => o.what).join(', ')}: an owner can turn row-level security off; connect as a role that owns nothing`)
  }

  const tables = new Map<string, TableInfo>()
  const warnings: string[] = []
  const leakproof = (await client.query<{ proleakproof: boolean }>('select proleakproof from pg_proc where oid = \'geometry_overlaps(geometry, geometry)\'::regprocedure')).rows[0]?.proleakproof === true
  if (!leakproof && collections.length > 0) {
    warnings.push('the && operator (geometry_overlaps) is not LEAKPROOF: under row-level security no bbox query can use a spatial index, each scans all of its organization\'s rows (npm run postgis-sql prints the ALTER FUNCTION, to run as a superuser)')
  }
  for (const c of collections) {
    const where = `collection ${c.id}, table ${c.table}`
    const { schema, name } = splitTable(c.table)
    const rel = (await client.query<{ oid: number, relrowsecurity: boolean, relforcerowsecurity: boolean, owner_member: boolean, can_select: boolean }>(
      `select c.oid, c.relrowsecurity, c.relforcerowsecurity, pg_has_role(current_user, c.relowner, 'MEMBER') as owner_member,
              has_table_privilege(c.oid, 'SELECT') as can_select
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')`, [schema, name])).rows[0]
    if (rel === undefined) throw new CollectionsInvalid(source, `${where}: no such table (or the role in DATABASE_URL cannot see it)`)
    const columns = new Map((await client.query<Column>(
      `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, t.typname as "typeName", a.atthasdef as "hasDefault", a.attnum
       from pg_attribute a join pg_type t on t.oid = a.atttypid
       where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped`, [rel.oid])).rows.map(r => [r.name, r]))
    const column = (col: string, role: string, allowed?: Set<string>, expected?: string): Column => {
      const found = columns.get(col)
      if (found === undefined) throw new CollectionsInvalid(source, `${where}, column ${col} (${role}): no such column`)
      if (allowed !== undefined && !allowed.has(found.typeName)) throw new CollectionsInvalid(source, `${where}, column ${col} (${role}): type ${found.type} cannot be used; expected ${expected ?? [...allowed].join(', ')}`)
      return found
    }
    const id = column(c.idColumn, 'idColumn', new Set([...INTEGER, ...TEXT, 'uuid']), 'an integer, text or uuid')
    const geometry = column(c.geometryColumn, 'geometryColumn', new Set(['geometry']), 'geometry with an SRID, such as geometry(Point, 4326)')
    const org = column(c.orgColumn, 'orgColumn', TEXT, 'text or varchar')
    if (c.temporalColumn !== undefined) column(c.temporalColumn, 'temporalColumn', TEMPORAL, 'timestamptz, timestamp or date')
    const propertiesType = c.propertiesColumn === undefined ? null : column(c.propertiesColumn, 'propertiesColumn', new Set(['json', 'jsonb']), 'json or jsonb').typeName as 'json' | 'jsonb'
    if (c.orderColumn !== undefined) column(c.orderColumn, 'orderColumn', new Set([...INTEGER, ...TEXT, ...TEMPORAL, 'numeric', 'uuid']), 'an integer, text, number, uuid or date/time')
    const columnTypes: Record<string, string> = {}
    for (const p of c.properties) columnTypes[p] = column(p, 'properties', SERVABLE, 'a number, text, boolean, uuid, date/time or json(b) type').typeName

    const srid = Number((await client.query<{ srid: number }>('select postgis_typmod_srid(a.atttypmod) as srid from pg_attribute a where a.attrelid = $1 and a.attname = $2', [rel.oid, c.geometryColumn])).rows[0]?.srid ?? 0)
    if (srid <= 0) throw new CollectionsInvalid(source, `${where}, column ${c.geometryColumn} (geometryColumn): the type ${geometry.type} has no SRID; ALTER TABLE ${qualified(c.table)} ALTER COLUMN ${c.geometryColumn} TYPE geometry(Geometry, <srid>) USING ST_SetSRID(${c.geometryColumn}, <srid>)`)
    const known = (await client.query('select 1 from spatial_ref_sys where srid = $1', [srid])).rowCount
    if (known === 0) throw new CollectionsInvalid(source, `${where}, column ${c.geometryColumn} (geometryColumn): SRID ${srid} is not in spatial_ref_sys, so it cannot be served as CRS84`)
    const hasSpatialIndex = ((await client.query(
      `select 1 from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_am am on am.oid = ic.relam
       where i.indrelid = $1 and am.amname in ('gist', 'spgist', 'brin') and $2 = any(i.indkey::int2[])`, [rel.oid, geometry.attnum])).rowCount ?? 0) > 0
    if (!hasSpatialIndex) warnings.push(`${where}, column ${c.geometryColumn}: no spatial (GiST) index; every bbox query scans the table (npm run postgis-sql prints CREATE INDEX)`)

    // Tenancy: fail closed on anything but the expected form.
    if (!rel.can_select) throw new TenancyUnsafe(where, `the role ${role.rolname} has no SELECT on the table`)
    if (rel.owner_member) throw new TenancyUnsafe(where, `the role ${role.rolname} is a member of the table's owner, which can turn row-level security off`)
    if (!rel.relrowsecurity) throw new TenancyUnsafe(where, `row-level security is not enabled: ALTER TABLE ${qualified(c.table)} ENABLE ROW LEVEL SECURITY`)
    if (!rel.relforcerowsecurity) throw new TenancyUnsafe(where, `row-level security is not forced: ALTER TABLE ${qualified(c.table)} FORCE ROW LEVEL SECURITY`)
    const policies = (await client.query<{ polname: string, polcmd: string, polpermissive: boolean, applies: boolean, qual: string | null, check: string | null }>(
      `select p.polname, p.polcmd, p.polpermissive,
              (0 = any(p.polroles) or exists (select 1 from unnest(p.polroles) r where pg_has_role(current_user, r, 'MEMBER'))) as applies,
              pg_get_expr(p.polqual, p.polrelid) as qual, pg_get_expr(p.polwithcheck, p.polrelid) as check
       from pg_policy p where p.polrelid = $1`, [rel.oid])).rows.filter(p => p.applies)
    const permissive = policies.filter(p => p.polpermissive)
    const expected = permissive.filter(p => p.polcmd === '*' && isOrgComparison(p.qual, org.name) && isOrgComparison(p.check, org.name))
    if (expected.length === 0) {
      throw new TenancyUnsafe(where, `no policy for ALL commands with USING and WITH CHECK (${c.orgColumn} = current_setting('${ORG_SETTING}', true)) applies to ${role.rolname}`)
    }
    // Permissive policies are OR-ed: one more, of any other form, could let rows of other organizations through.
    const other = permissive.find(p => !expected.includes(p))
    if (other !== undefined) throw new TenancyUnsafe(where, `policy ${other.polname} is permissive and not of the expected form; it would widen what ${role.rolname} sees`)
    tables.set(c.id, { srid, idKind: INTEGER.has(id.typeName) ? 'integer' : id.typeName === 'uuid' ? 'uuid' : 'text', idType: id.typeName, idDefault: id.hasDefault, columnTypes, hasSpatialIndex, propertiesType })
  }
  return { tables, warnings }
}
