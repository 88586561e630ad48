// Owns the PostGIS collections file: which table serves which collection, and its shape, checked before any SQL.
import { readFile } from 'node:fs/promises'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { CollectionsInvalid } from '../../shared/errors.js'
import type { CollectionDef } from '../store.js'

/** A plain SQL identifier: identifiers are quoted anyway, this keeps the file readable and the messages exact. */
const IDENT = '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'
const Ident = Type.String({ pattern: IDENT })

export const PublishedCollectionSchema = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'collection id in the URL' }),
  title: Type.String({ minLength: 1 }),
  description: Type.String({ default: '' }),
  /** schema.table: always schema-qualified, so search_path never decides which table is served. */
  table: Type.String({ pattern: `^[A-Za-z_][A-Za-z0-9_$]{0,62}\\.[A-Za-z_][A-Za-z0-9_$]{0,62}$` }),
  idColumn: Ident,
  geometryColumn: Ident,
  orgColumn: Ident,
  /** A timestamptz, timestamp or date column: `datetime` filters on it; it is served as a property of its name. */
  temporalColumn: Type.Optional(Ident),
  /** Columns served as properties (in this order), written from the properties of the same name. */
  properties: Type.Array(Ident, { default: [], maxItems: 40 }),
  /**
   * A json or jsonb column holding every other property (json keeps them as written, in order; jsonb sorts them):
   * without it, a property that is no column is refused (400).
   */
  propertiesColumn: Type.Optional(Ident),
  /** The stable order of pages (then the id): a serial or identity column keeps first-insertion order. Default: the id. */
  orderColumn: Type.Optional(Ident),
  /** Properties (columns of `properties`, or members of `propertiesColumn`) a client may filter on by equality. */
  queryables: Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }), { default: [] })
}, { additionalProperties: false })

export const CollectionsFileSchema = Type.Object({
  collections: Type.Array(PublishedCollectionSchema)
}, { additionalProperties: false })

export type PublishedCollection = Static<typeof PublishedCollectionSchema>

/** The collection as the routes see it: the temporal column is the temporal property. */
export function collectionDef (c: PublishedCollection): CollectionDef {
  return {
    id: c.id,
    title: c.title,
    description: c.description,
    ...(c.temporalColumn === undefined ? {} : { temporalProperty: c.temporalColumn }),
    queryables: [...c.queryables]
  }
}

export function splitTable (table: string): { schema: string, name: string } {
  const [schema, name] = table.split('.') as [string, string]
  return { schema, name }
}

/** Checks what needs no database: shape, unique ids, columns named once, queryables that exist. */
export function parseCollections (json: unknown, source: string): PublishedCollection[] {
  const value = Value.Default(CollectionsFileSchema, Value.Clean(CollectionsFileSchema, structuredClone(json)))
  if (!Value.Check(CollectionsFileSchema, value)) {
    const problems = [...Value.Errors(CollectionsFileSchema, value)].slice(0, 5).map(e => `${e.instancePath || '/'} ${e.message}`)
    throw new CollectionsInvalid(source, problems.join('; '))
  }
  const seen = new Set<string>()
  for (const c of value.collections) {
    const where = `collection ${c.id} (table ${c.table})`
    if (seen.has(c.id)) throw new CollectionsInvalid(source, `collection ${c.id} is listed twice`)
    seen.add(c.id)
    const special = [c.idColumn, c.geometryColumn, c.orgColumn, c.propertiesColumn].filter(x => x !== undefined)
    if (new Set(special).size !== special.length || (c.temporalColumn !== undefined && special.includes(c.temporalColumn))) {
      throw new CollectionsInvalid(source, `${where}: idColumn, geometryColumn, orgColumn, temporalColumn and propertiesColumn must be different columns`)
    }
    for (const p of c.properties) {
      if (special.includes(p)) throw new CollectionsInvalid(source, `${where}: column ${p} is listed in properties and as a special column`)
      if (p === 'org') throw new CollectionsInvalid(source, `${where}: column org cannot be a property: properties.org is the organization, stamped from the token`)
    }
    if (c.temporalColumn !== undefined && !c.properties.includes(c.temporalColumn) && c.propertiesColumn === undefined) {
      throw new CollectionsInvalid(source, `${where}: the temporal column ${c.temporalColumn} is served as a property: list it in properties, or give a propertiesColumn to keep the property as written`)
    }
    if (new Set(c.properties).size !== c.properties.length) throw new CollectionsInvalid(source, `${where}: a column is listed twice in properties`)
    for (const q of c.queryables) {
      if (!c.properties.includes(q) && c.propertiesColumn === undefined) {
        throw new CollectionsInvalid(source, `${where}: queryable ${q} is not a column of properties, and there is no propertiesColumn`)
      }
    }
  }
  return value.collections
}

export async function readCollections (path: string): Promise<PublishedCollection[]> {
  let json: unknown
  try { json = JSON.parse(await readFile(path, 'utf8')) } catch (err) { throw new CollectionsInvalid(path, (err as Error).message) }
  return parseCollections(json, path)
}
