// Issue 15: docs/errors.md lists exactly the codes the code defines (fastify's test/internals/errors.test.js idea):
// APP_* codes from src/shared/errors.ts at run time, OAuthErrorCode and RefusalReason from their TypeScript types.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import ts from 'typescript'
import * as errors from '../../src/shared/errors.js'

const ROOT = new URL('../..', import.meta.url).pathname

/** The first column (a `code`) and the second of each table row under the heading `## title`. */
function table (doc: string, title: string): Array<{ code: string, second: string }> {
  const section = doc.split(/^## /m).find(s => s.startsWith(title)) ?? ''
  return [...section.matchAll(/^\| `([^`]+)` \| ([^|]*) \|/gm)].map(m => ({ code: m[1] as string, second: (m[2] as string).trim() }))
}

/** The string literals of the exported type `name`, found in any module of `dirs` (so a move keeps it found). */
function literalUnion (name: string, dirs: readonly string[]): string[] {
  const files = ts.sys.readDirectory(join(ROOT, 'src'), ['.ts']).filter(f => dirs.some(d => f.startsWith(join(ROOT, 'src', d) + '/')))
  const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true, skipLibCheck: true, types: [] })
  const checker = program.getTypeChecker()
  for (const file of files) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(file) as ts.SourceFile)
    const found = module === undefined ? undefined : checker.getExportsOfModule(module).find(s => s.name === name)
    if (found === undefined) continue
    const symbol = (found.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(found) : found
    const type = checker.getDeclaredTypeOfSymbol(symbol)
    return (type.isUnion() ? type.types : [type]).map(member => {
      if (!member.isStringLiteral()) throw new Error(`${name} has a member that is not a string literal: ${checker.typeToString(member)}`)
      return member.value
    })
  }
  throw new Error(`no module of src/{${dirs.join(',')}} exports a type ${name}`)
}

const sorted = (codes: Iterable<string>): string[] => [...codes].sort()

/** @fastify/error marks the prototype of every constructor it makes with this symbol. */
const FASTIFY_ERROR = Symbol.for('fastify-error-generic')

/** Every @fastify/error constructor of src/shared/errors.ts, made once to read its code and status. */
const appErrors = Object.entries(errors).flatMap(([name, value]) => {
  if (typeof value !== 'function' || value.prototype === undefined || !(FASTIFY_ERROR in value.prototype)) return []
  const err = new (value as new (...args: string[]) => { code: string, statusCode: number })('a', 'b')
  return [{ name, code: err.code, status: err.statusCode }]
})

t.test('every APP_* code of src/shared/errors.ts is in docs/errors.md with its status, and nothing else is', async t => {
  const doc = await readFile(join(ROOT, 'docs/errors.md'), 'utf8')
  t.ok(appErrors.length >= 10, `${appErrors.length} APP_* error constructors found`)
  const rows = table(doc, 'Operator errors')
  t.same(sorted(rows.map(r => r.code)), sorted(appErrors.map(e => e.code)))
  for (const e of appErrors) t.equal(rows.find(r => r.code === e.code)?.second, String(e.status), `${e.code} (${e.name}) is documented with status ${e.status}`)
})

t.test('APP_* codes are unique and name their area', async t => {
  t.equal(new Set(appErrors.map(e => e.code)).size, appErrors.length, 'no two constructors share a code')
  for (const e of appErrors) t.match(e.code, /^APP_[A-Z]+(_[A-Z]+)*$/, `${e.name}: ${e.code}`)
})

t.test('every OAuth error code (OAuthErrorCode) is in docs/errors.md, and nothing else is', async t => {
  const doc = await readFile(join(ROOT, 'docs/errors.md'), 'utf8')
  const codes = literalUnion('OAuthErrorCode', ['shared'])
  t.ok(codes.includes('invalid_grant'), 'the type was read')
  const rows = table(doc, 'OAuth errors')
  t.same(sorted(rows.map(r => r.code)), sorted(codes))
  for (const r of rows) t.match(r.second, /^[45]\d\d$/, `${r.code} has an HTTP status`)
})

t.test('every token refusal reason (RefusalReason) is in docs/errors.md, and nothing else is', async t => {
  const doc = await readFile(join(ROOT, 'docs/errors.md'), 'utf8')
  const reasons = literalUnion('RefusalReason', ['verifier'])
  t.ok(reasons.includes('expired'), 'the type was read')
  t.same(sorted(table(doc, 'Token refusal reasons').map(r => r.code)), sorted(reasons))
})
