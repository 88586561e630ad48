// Owns the SQL that prepares published tables for geotoken: the role it connects as, its grants, the row-level
// security policy the start-up check expects, and the spatial index. Idempotent: it can be applied again.
import { splitTable, type PublishedCollection } from './collections.js'
import { ident, literal, ORG_SETTING, qualified } from './identifiers.js'

export interface PrepareOptions {
  /** The login role geotoken connects as (DATABASE_URL's user). */
  role: string
  /** Set as the role's password when given; otherwise the role is created without one (set it yourself). */
  password?: string
}

export const POLICY_NAME = 'geotoken_org'

function indexName (table: string, suffix: string): string {
  return ident(`${splitTable(table).name}_${suffix}`.slice(0, 63))
}

/** The statements, each ending with ';', with comments saying why: what `npm run postgis-sql` prints. */
export function prepareSql (collections: readonly PublishedCollection[], opts: PrepareOptions): string {
  const role = ident(opts.role)
  const lines: string[] = [
    '-- geotoken: prepare published tables (npm run postgis-sql). Run as a superuser (role attributes and LEAKPROOF need one).',
    '-- The service\'s role: it logs in, owns nothing, is no superuser and cannot bypass row-level security.',
    `do $$ begin create role ${role} login nosuperuser nobypassrls nocreatedb nocreaterole noinherit; exception when duplicate_object then null; end $$;`,
    `alter role ${role} login nosuperuser nobypassrls nocreatedb nocreaterole noinherit;`
  ]
  if (opts.password !== undefined) lines.push(`alter role ${role} password ${literal(opts.password)};`)
  else lines.push(`-- alter role ${role} password '...';  -- set one, and put it in DATABASE_URL`)
  if (collections.length > 0) {
    lines.push(
      '-- Under row-level security the planner may use a condition in an index scan only if its operator is LEAKPROOF',
      '-- (it would otherwise see other organizations\' rows first): PostGIS\'s && is not marked so, and every bbox query',
      '-- would scan all of the organization\'s rows. && compares bounding boxes; its only error names two SRIDs, and',
      '-- geotoken always sends the column\'s. Refused (not a superuser), it is skipped with a notice, and geotoken warns',
      '-- at start-up: bbox queries then work, slowly.',
      'do $$ begin alter function geometry_overlaps(geometry, geometry) leakproof; exception when insufficient_privilege then ' +
        'raise notice \'run as a superuser: ALTER FUNCTION geometry_overlaps(geometry, geometry) LEAKPROOF; until then no bbox query can use a spatial index under row-level security\'; end $$;'
    )
  }
  for (const schema of [...new Set(collections.map(c => splitTable(c.table).schema))]) {
    lines.push(`grant usage on schema ${ident(schema)} to ${role};`)
  }
  for (const c of collections) {
    const table = qualified(c.table)
    const org = ident(c.orgColumn)
    const check = `(${org} = current_setting(${literal(ORG_SETTING)}, true))`
    lines.push(
      '',
      `-- collection ${c.id}: ${c.table}`,
      `grant select, insert, update, delete on ${table} to ${role};`,
      '-- A serial or identity id draws from its sequence on insert.',
      `do $$ declare s text := pg_get_serial_sequence(${literal(table)}, ${literal(c.idColumn)}); begin if s is not null then execute format('grant usage on sequence %s to %I', s, ${literal(opts.role)}); end if; end $$;`,
      '-- Each request sets geotoken.org for its own transaction only; rows of other organizations are invisible and',
      '-- cannot be written. FORCE applies the policies to the table\'s owner too: give other roles that need every',
      '-- row a policy of their own (TO that_role), never to geotoken\'s role.',
      `alter table ${table} enable row level security;`,
      `alter table ${table} force row level security;`,
      `drop policy if exists ${POLICY_NAME} on ${table};`,
      `create policy ${POLICY_NAME} on ${table} as permissive for all to ${role} using ${check} with check ${check};`,
      '-- bbox queries: a GiST index on the geometry; the organization column narrows every query.',
      `create index if not exists ${indexName(c.table, `${c.geometryColumn}_gist`)} on ${table} using gist (${ident(c.geometryColumn)});`,
      `create index if not exists ${indexName(c.table, c.orgColumn)} on ${table} (${org});`,
      `analyze ${table};`
    )
  }
  return lines.join('\n') + '\n'
}
