// Owns SQL identifier quoting: every identifier in geotoken's SQL comes from the validated collections file, quoted here.

/** A double-quoted identifier (quotes doubled): the file's pattern already excludes them, this is the second line. */
export function ident (name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** "schema"."table" */
export function qualified (table: string): string {
  const dot = table.indexOf('.')
  return `${ident(table.slice(0, dot))}.${ident(table.slice(dot + 1))}`
}

/** A SQL string literal (for catalog statements that take no bind parameters, such as CREATE ROLE ... PASSWORD). */
export function literal (value: string): string {
  return `'${value.replaceAll('\'', '\'\'')}'`
}

/** The transaction setting RLS policies compare the organization column with. */
export const ORG_SETTING = 'geotoken.org'
