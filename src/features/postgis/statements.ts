// Owns the SQL of one published table: fragments built once from the validated collections file (identifiers
// quoted), statements whose every value is a bind parameter. Pure: no connection here.
import type { Bbox, ItemsQuery } from '../store.js'
import type { PublishedCollection } from './collections.js'
import type { TableInfo } from './catalog.js'
import { ident, qualified } from './identifiers.js'

export interface Statement { text: string, values: unknown[] }

/**
 * Separates the features of a page in the one text a page query returns. U+001E cannot occur in JSON text: a
 * control character is escaped inside strings and is no whitespace outside them (RFC 8259 §2, §7), and PostgreSQL's
 * json input refuses it raw.
 */
export const FEATURE_SEPARATOR = '\x1e'

/** Web Mercator has no image of the poles: a CRS84 box is clamped to its latitude range before the transform. */
const MERCATOR = new Set([3857, 3395, 900913, 3785, 102100, 102113])
const MERCATOR_MAX_LAT = 85.06

/**
 * How far inside a CRS84 box a feature's box must lie to count as inside without the exact comparison. PostGIS's
 * boxes are floats rounded outwards, at most one float ulp (1.5e-5 at 180°) beyond the doubles: the shrunk box's
 * float box stays inside the box itself (a feature's own rounding only makes `@` stricter).
 */
const INNER_MARGIN = 1e-4

const INT_RANGE: Record<string, bigint> = { int2: 32767n, int4: 2147483647n, int8: 9223372036854775807n }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The values a write sends: typed columns through jsonb_populate_record, the rest as jsonb, geometry as GeoJSON. */
export interface WriteValues { columns: string, extra: string | null, geometry: string | null }

export class TableStatements {
  readonly table: string
  readonly collection: PublishedCollection
  readonly info: TableInfo
  /** The feature as served, as one text value: the ETag is a hash of exactly this. */
  readonly json: string
  /** The strong ETag of `json`, computed by the database, the same value as etagOf() in JavaScript. */
  readonly etag: string
  readonly #id: string
  readonly #org: string
  readonly #geom: string
  readonly #order: string
  /** Columns a write sets from the properties of the same name: the listed ones and the temporal column. */
  readonly #written: string[]

  constructor (collection: PublishedCollection, info: TableInfo) {
    this.collection = collection
    this.info = info
    this.table = qualified(collection.table)
    this.#id = `t.${ident(collection.idColumn)}`
    this.#org = `t.${ident(collection.orgColumn)}`
    this.#geom = `t.${ident(collection.geometryColumn)}`
    this.#order = collection.orderColumn === undefined ? this.#id : `t.${ident(collection.orderColumn)}, ${this.#id}`
    this.#written = [...new Set([...collection.properties, ...(collection.temporalColumn === undefined ? [] : [collection.temporalColumn])])]
    const geometry = info.srid === 4326 ? this.#geom : `ST_Transform(${this.#geom}, 4326)`
    // CRS84 coordinates as stored, to the 15 decimals PostGIS can write; transformed ones to 9 (0.1 mm), not noise.
    const decimals = info.srid === 4326 ? 15 : 9
    // The members of a JSON object's text, without its braces ('' for {}): the parts are joined as text, so the
    // other properties keep the order they were written in (a json column), and org is always last.
    const members = (objectText: string): string => `nullif(btrim(substr(btrim(${objectText}), 2, length(btrim(${objectText})) - 2)), '')`
    const parts = [
      ...(collection.propertiesColumn === undefined ? [] : [members(`t.${ident(collection.propertiesColumn)}::text`)]),
      // One member per listed column, in the file's order; a NULL column is no property (concat_ws skips it), as a
      // property never sent is none (nulls in the properties column are kept). Built as text: no object is made
      // and taken apart again per row.
      ...collection.properties.map(c => `case when t.${ident(c)} is not null then '${JSON.stringify(c)}:' || to_json(t.${ident(c)})::text end`),
      `'"org":' || to_json(${this.#org}::text)::text`
    ]
    // An integer or uuid id is digits, letters and dashes: quoted as it is, without to_json's escaping per row.
    const id = info.idKind === 'text' ? `to_json(${this.#id}::text)::text` : `'"' || ${this.#id}::text || '"'`
    this.json = `('{"type":"Feature","id":' || ${id} || ',"geometry":' || coalesce(ST_AsGeoJSON(${geometry}, ${decimals}), 'null') || ',"properties":{' || concat_ws(',', ${parts.join(', ')}) || '}}')`
    this.etag = `('"' || left(translate(encode(sha256(convert_to(${this.json}, 'UTF8')), 'base64'), '+/', '-_'), 27) || '"')`
  }

  /** Whether `id` can name a row at all: a text that is no integer (or uuid) is simply not found, without a query. */
  validId (id: string): boolean {
    if (this.info.idKind === 'uuid') return UUID.test(id)
    if (this.info.idKind === 'text') return true
    if (!/^-?\d{1,19}$/.test(id)) return false
    const n = BigInt(id)
    const max = INT_RANGE[this.info.idType] ?? INT_RANGE.int8 as bigint
    return n <= max && n >= -max - 1n
  }

  #where (org: string, q: ItemsQuery, values: unknown[]): string {
    const p = (v: unknown): string => { values.push(v); return `$${values.length}` }
    const conditions = [`${this.#org} = ${p(org)}`]
    if (q.bbox !== undefined) {
      const boxes = q.bbox[0] <= q.bbox[2]
        ? [q.bbox]
        // West east of east: the box crosses the antimeridian (OGC 17-069r4 §7.15.3), two boxes.
        : [[q.bbox[0], q.bbox[1], 180, q.bbox[3]], [-180, q.bbox[1], q.bbox[2], q.bbox[3]]] as Bbox[]
      conditions.push(`(${boxes.map(b => this.#intersects(b, p)).join(' or ')})`)
    }
    // No temporal column: no feature has a time, and a datetime filter matches none.
    if (q.datetime !== undefined && this.collection.temporalColumn === undefined) conditions.push('false')
    if (q.datetime !== undefined && this.collection.temporalColumn !== undefined) {
      const column = `t.${ident(this.collection.temporalColumn)}`
      const [start, end] = q.datetime
      if (start !== null) conditions.push(`${column} >= ${p(new Date(start).toISOString())}::timestamptz`)
      if (end !== null) conditions.push(`${column} <= ${p(new Date(end).toISOString())}::timestamptz`)
    }
    for (const [name, value] of Object.entries(q.properties)) {
      // Equality on the property as served, as text (what the embedded store compares: String(value)).
      if (this.collection.properties.includes(name)) conditions.push(`t.${ident(name)}::text = ${p(value)}`)
      else conditions.push(`t.${ident(this.collection.propertiesColumn as string)} ->> ${p(name)} = ${p(value)}`)
    }
    return conditions.join(' and ')
  }

  /**
   * The feature's box intersects `b`, edges included. `&&` uses the index's float boxes, rounded outwards: in CRS84
   * the exact double comparison follows, so a 1e-300 does not count as 0 (the embedded store compares doubles too).
   */
  #intersects (b: Bbox, p: (v: unknown) => string): string {
    const index = `${this.#geom} && ${this.#envelope(b, p)}`
    if (this.info.srid !== 4326) return index
    const box = `${this.#geom}::box3d`
    const exact = `ST_XMin(${box}) <= ${p(b[2])}::float8 and ST_XMax(${box}) >= ${p(b[0])}::float8 and ST_YMin(${box}) <= ${p(b[3])}::float8 and ST_YMax(${box}) >= ${p(b[1])}::float8`
    const [minX, minY, maxX, maxY] = b
    if (maxX - minX <= 2 * INNER_MARGIN || maxY - minY <= 2 * INNER_MARGIN) return `(${index} and ${exact})`
    // A feature whose float box lies within the box shrunk by INNER_MARGIN is inside it: no exact comparison (four
    // box3d casts, ~40 µs of a 100-feature page) for any but those near an edge. `&&` stays first: it is false for
    // an EMPTY geometry, which `@` counts as inside anything.
    const inner = `(select ST_MakeEnvelope(${p(minX + INNER_MARGIN)}::float8, ${p(minY + INNER_MARGIN)}::float8, ${p(maxX - INNER_MARGIN)}::float8, ${p(maxY - INNER_MARGIN)}::float8, 4326))`
    return `(${index} and (${this.#geom} @ ${inner} or (${exact})))`
  }

  #envelope (b: Bbox, p: (v: unknown) => string): string {
    let [minX, minY, maxX, maxY] = b
    if (MERCATOR.has(this.info.srid)) {
      minY = Math.max(minY, -MERCATOR_MAX_LAT)
      maxY = Math.min(maxY, MERCATOR_MAX_LAT)
      if (minY > maxY) [minY, maxY] = [maxY, maxY]
    }
    const box = `ST_MakeEnvelope(${p(minX)}::float8, ${p(minY)}::float8, ${p(maxX)}::float8, ${p(maxY)}::float8, 4326)`
    // A scalar subquery: an InitPlan, computed once per execution, that the GiST scan takes as its key. Its value is
    // hidden from the planner, so a box's size no longer changes the plan, and PostgreSQL chose a generic plan for
    // the prepared statement after five custom ones (in the benchmark) instead of planning every request
    // (docs/performance.md, PostGIS, change 10). A whole-world box is then an index scan too, not a sequential one.
    return `(select ${this.info.srid === 4326 ? box : `ST_Transform(${box}, ${this.info.srid})`})`
  }

  count (org: string, q: ItemsQuery): Statement {
    const values: unknown[] = []
    return { text: `select count(*)::int8 as n from ${this.table} t where ${this.#where(org, q, values)}`, values }
  }

  /**
   * A page as one row: `page`, the features' JSON in order joined by FEATURE_SEPARATOR (null for none). One text
   * instead of a row per feature: node-postgres spends about a microsecond per row it parses, which was a third of
   * what a PostGIS page cost the service beyond the embedded store's (docs/performance.md).
   */
  page (org: string, q: ItemsQuery): Statement {
    const values: unknown[] = []
    const where = this.#where(org, q, values)
    values.push(q.limit, q.offset)
    const rows = `select t.* from ${this.table} t where ${where} order by ${this.#order} limit $${values.length - 1} offset $${values.length}`
    return { text: `select ${this.#joined} as page from (${rows}) t`, values }
  }

  /**
   * Page and count in one scan: `n` is the count of all matches (a window over the matches, before the limit). For
   * selective queries (a bbox): one heap scan instead of two. An empty page has no count (null): count separately.
   */
  counted (org: string, q: ItemsQuery): Statement {
    const values: unknown[] = []
    const where = this.#where(org, q, values)
    values.push(q.limit, q.offset)
    const rows = `select t.*, count(*) over () as geotoken_matched from ${this.table} t where ${where} order by ${this.#order} limit $${values.length - 1} offset $${values.length}`
    return { text: `select ${this.#joined} as page, max(t.geotoken_matched) as n from (${rows}) t`, values }
  }

  // In the order of the subquery's rows. The PostgreSQL manual ("Aggregate Expressions") says input from a sorted
  // subquery "will usually work" and can fail "if the outer query level contains additional processing, such as a
  // join"; this outer level has none: one aggregate over one sorted subquery. An ORDER BY in the aggregate would
  // sort the page a second time (30 µs of a request's ~440 µs in PostgreSQL). A test checks the served order on a
  // table stored in shuffled order (test/features/postgis-store.test.ts).
  get #joined (): string { return `string_agg(${this.json}, chr(30))` }

  one (org: string, id: string, lock = false): Statement {
    return { text: `select ${this.json} as json from ${this.table} t where ${this.#id} = $1 and ${this.#org} = $2${lock ? ' for update' : ''}`, values: [id, org] }
  }

  exists (org: string, id: string): Statement {
    return { text: `select 1 from ${this.table} t where ${this.#id} = $1 and ${this.#org} = $2`, values: [id, org] }
  }

  extent (org: string): Statement {
    const temporal = this.collection.temporalColumn === undefined ? 'null::timestamptz' : `t.${ident(this.collection.temporalColumn)}`
    // The extent of the stored coordinates, transformed as one box: one transform, not one per row.
    const box = `ST_Transform(ST_SetSRID(ST_Extent(${this.#geom})::geometry, ${this.info.srid}), 4326)`
    return {
      text: `select ST_XMin(e.b) as "minX", ST_YMin(e.b) as "minY", ST_XMax(e.b) as "maxX", ST_YMax(e.b) as "maxY", e.t0, e.t1
             from (select ${box} as b, min(${temporal})::timestamptz as t0, max(${temporal})::timestamptz as t1 from ${this.table} t where ${this.#org} = $1) e`,
      values: [org]
    }
  }

  #geometryValue (p: string): string {
    const g = `ST_SetSRID(ST_GeomFromGeoJSON(${p}::text), 4326)`
    return this.info.srid === 4326 ? g : `ST_Transform(${g}, ${this.info.srid})`
  }

  /** INSERT of a new row, the org stamped from the token; `id` null lets the column's default choose. */
  insert (org: string, id: string | null, v: WriteValues): Statement {
    const c = this.collection
    const names = [c.orgColumn, c.geometryColumn, ...this.#written, ...(c.propertiesColumn === undefined ? [] : [c.propertiesColumn])]
    const exprs = ['$1', this.#geometryValue('$2'), ...this.#written.map(w => `r.${ident(w)}`), ...(c.propertiesColumn === undefined ? [] : [`$4::${this.info.propertiesType ?? 'jsonb'}`])]
    const values: unknown[] = [org, v.geometry, v.columns, ...(c.propertiesColumn === undefined ? [] : [v.extra])]
    if (id !== null) {
      names.unshift(c.idColumn)
      values.push(id)
      exprs.unshift(`$${values.length}`)
    }
    return {
      text: `insert into ${this.table} as t (${names.map(ident).join(', ')}) select ${exprs.join(', ')} from jsonb_populate_record(null::${this.table}, $3::jsonb) r returning ${this.json} as json`,
      values
    }
  }

  /** UPDATE of one row; with `tags`, only while its ETag is one of them (If-Match in the same statement). */
  update (org: string, id: string, v: WriteValues, tags: string[] | null): Statement {
    const c = this.collection
    const sets = [`${ident(c.geometryColumn)} = ${this.#geometryValue('$3')}`, ...this.#written.map(w => `${ident(w)} = r.${ident(w)}`)]
    const values: unknown[] = [id, org, v.geometry, v.columns]
    if (c.propertiesColumn !== undefined) { values.push(v.extra); sets.push(`${ident(c.propertiesColumn)} = $${values.length}::${this.info.propertiesType ?? 'jsonb'}`) }
    let condition = ''
    if (tags !== null) { values.push(tags); condition = ` and ${this.etag} = any($${values.length}::text[])` }
    return {
      text: `update ${this.table} as t set ${sets.join(', ')} from jsonb_populate_record(null::${this.table}, $4::jsonb) r where ${this.#id} = $1 and ${this.#org} = $2${condition} returning ${this.json} as json`,
      values
    }
  }

  delete (org: string, id: string, tags: string[] | null): Statement {
    const values: unknown[] = [id, org]
    let condition = ''
    if (tags !== null) { values.push(tags); condition = ` and ${this.etag} = any($3::text[])` }
    return { text: `delete from ${this.table} t where ${this.#id} = $1 and ${this.#org} = $2${condition}`, values }
  }

  /**
   * Splits a feature's properties: the listed columns (and the temporal column) are written from the properties of
   * their name; every property that is no listed column goes to the properties column, as written.
   */
  writeValues (properties: Record<string, unknown> | null, geometry: unknown): WriteValues | { unknown: string } {
    const columns: Record<string, unknown> = {}
    const extra: Record<string, unknown> = {}
    for (const [name, value] of Object.entries(properties ?? {})) {
      if (name === 'org') continue // stamped from the token, never taken from the body
      if (this.#written.includes(name)) columns[name] = value
      if (this.collection.properties.includes(name)) continue
      if (this.collection.propertiesColumn === undefined) {
        if (name !== this.collection.temporalColumn) return { unknown: name }
      } else extra[name] = value
    }
    return {
      columns: JSON.stringify(columns),
      extra: this.collection.propertiesColumn === undefined ? null : JSON.stringify(extra),
      geometry: geometry === null || geometry === undefined ? null : JSON.stringify(geometry)
    }
  }
}
