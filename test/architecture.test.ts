// Issue 15: imports only point down the layers, no cycles (npm run check:deps), and config is read from the
// environment in one place.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { npm, ROOT } from './helpers/npm.js'

interface Dependency { resolved: string, circular: boolean }
interface Cruised {
  modules: Array<{ source: string, dependencies: Dependency[] }>
  summary: { violations: Array<{ from: string, to: string, rule: { name: string } }> }
}

const CONFIG = join(ROOT, '.dependency-cruiser.cjs')
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise')

/** dependency-cruiser's JSON report of `paths`, cruised from `cwd` with the project's rules. */
async function cruise (cwd: string, paths: readonly string[]): Promise<Cruised> {
  return await new Promise((resolve, reject) => {
    execFile(DEPCRUISE, [...paths, '--config', CONFIG, '--output-type', 'json'], { cwd, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      // It exits with the number of errors found: the report is what we judge.
      if (stdout === '') { reject(err ?? new Error(stderr)); return }
      resolve(JSON.parse(stdout) as Cruised)
    })
  })
}

t.test('npm run check:deps finds no upward import and no cycle in src, scripts and bench', async t => {
  const res = await npm(['run', '--silent', 'check:deps'])
  t.equal(res.code, 0, res.stdout + res.stderr)
  t.match(res.stdout, /no dependency violations found/)
})

t.test('the check reports upward imports and cycles', async t => {
  const dir = t.testdir({
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', rootDir: '.' }, include: ['src/**/*.ts'] }),
    src: {
      keys: { 'store.ts': "import type { Metrics } from '../ops/metrics.js'\nexport type M = Metrics\n" },
      ops: { 'metrics.ts': 'export interface Metrics { n: number }\n' },
      features: { 'a.ts': "import { b } from './b.js'\nexport const a = (): number => b()\n", 'b.ts': "import { a } from './a.js'\nexport const b = (): number => a()\n" },
      shared: { 'log.ts': "import { a } from '../features/a.js'\nexport const log = a\n" },
      'app.ts': "import { log } from './shared/log.js'\nimport type { M } from './keys/store.js'\nexport const app = (m: M): unknown => [log, m]\n"
    }
  })
  const found = (await cruise(dir, ['src'])).summary.violations.map(v => `${v.rule.name} ${v.from} -> ${v.to}`).sort()
  t.same(found.filter(v => v.startsWith('layer-')), [
    'layer-keys src/keys/store.ts -> src/ops/metrics.ts',
    'layer-shared src/shared/log.ts -> src/features/a.ts'
  ], 'both upward imports, the type-only one too; none from the top (app.ts), which may import any layer')
  const cycles = found.filter(v => v.startsWith('no-cycle'))
  t.equal(cycles.length, 1, 'the cycle, reported once')
  t.match(cycles[0], /^no-cycle src\/features\/(a|b)\.ts -> src\/features\/(b|a)\.ts$/)
})

/** Every .ts file under `dir`, relative to the checkout. */
async function sources (dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true })
  return entries.filter(e => e.isFile() && e.name.endsWith('.ts')).map(e => relative(ROOT, join(e.parentPath, e.name)))
}

t.test('only src/server.ts reads process.env: the rest of src gets the validated config', async t => {
  const readers: string[] = []
  for (const file of await sources('src')) {
    if (/\bprocess\.env\b/.test(await readFile(join(ROOT, file), 'utf8'))) readers.push(file)
  }
  t.same(readers, ['src/server.ts'])
})
