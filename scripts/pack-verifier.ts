// `npm run pack:verifier`: packs the remote verifier as its own small package, geotoken-verifier, built from this
// checkout's dist/: only the modules it imports (found by following them) and only the dependencies those name.
import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { isBuiltin } from 'node:module'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { swallowedByNpm } from '../src/npm-options.js'
import { isMain } from './cli.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
// The Fastify plugin, and the Koop auth plugin (Koop is its host, never a dependency).
const ENTRIES = { '.': 'verifier/remote', './koop': 'koop/plugin' } as const
const NAME = 'geotoken-verifier'
const OPTIONS = { out: { type: 'string' }, help: { type: 'boolean' } } as const
const USAGE = `usage: npm run --silent pack:verifier [-- --out DIR]
Packs ${NAME} (the remote verifier plugin and the Koop auth plugin, its types and docs/remote-verification.md as its README) from dist/
and prints the tarball's path; DIR defaults to dist/.`

// Imports and re-exports in compiled JavaScript and declaration files: `… from '…'`, a bare `import '…'`, and the
// `import("…")` type references tsc writes into declarations.
const SPECIFIERS = [/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g]

/** The files `entry` needs (itself included), and the packages they import. Relative imports stay within dist/src. */
export async function closure (root: string, entries: readonly string[]): Promise<{ files: string[], packages: Set<string> }> {
  const files = new Set<string>()
  const packages = new Set<string>()
  const queue = [...entries]
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (files.has(file)) continue
    files.add(file)
    const text = await readFile(join(root, file), 'utf8')
    for (const [, spec] of SPECIFIERS.flatMap(re => [...text.matchAll(re)])) {
      if (spec === undefined || spec.startsWith('node:') || isBuiltin(spec)) continue
      if (spec.startsWith('.')) {
        const target = relative(root, resolve(root, dirname(file), spec))
        queue.push(file.endsWith('.d.ts') ? target.replace(/\.js$/, '.d.ts') : target)
      } else {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] as string)
      }
    }
  }
  return { files: [...files].sort(), packages }
}

interface RootPackage { version: string, license: string, engines: Record<string, string>, dependencies: Record<string, string> }

export async function packVerifier (root: string, outDir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as RootPackage
  const { files, packages } = await closure(root, Object.values(ENTRIES).flatMap(e => [`dist/src/${e}.js`, `dist/src/${e}.d.ts`]))
  // Fastify is the consumer's own (its types are imported, its instance is passed in): a peer, never a second copy.
  const peer = 'fastify'
  const dependencies: Record<string, string> = {}
  for (const name of [...packages].filter(p => p !== peer).sort()) {
    const range = pkg.dependencies[name]
    if (range === undefined) throw new Error(`the verifier imports ${name}, which package.json does not list as a dependency`)
    dependencies[name] = range
  }
  const stage = join(root, 'dist', 'verifier-package')
  await rm(stage, { recursive: true, force: true })
  for (const file of files) {
    const target = join(stage, 'lib', relative(join(root, 'dist', 'src'), join(root, file)))
    await mkdir(dirname(target), { recursive: true })
    // The source maps point at sources that are not shipped.
    await writeFile(target, (await readFile(join(root, file), 'utf8')).replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'))
  }
  await copyFile(join(root, 'docs', 'remote-verification.md'), join(stage, 'README.md'))
  const manifest = {
    name: NAME,
    version: pkg.version,
    description: 'Fastify and Koop plugins that verify geotoken access tokens (RFC 9068) against the issuer\'s JWKS',
    type: 'module',
    license: pkg.license,
    engines: pkg.engines,
    exports: Object.fromEntries(Object.entries(ENTRIES).map(([name, e]) => [name, { types: `./lib/${e}.d.ts`, default: `./lib/${e}.js` }])),
    files: ['lib', 'README.md'],
    dependencies,
    peerDependencies: { [peer]: pkg.dependencies[peer] },
    // A Koop server uses ./koop alone and has no Fastify.
    peerDependenciesMeta: { [peer]: { optional: true } }
  }
  await writeFile(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
  await mkdir(outDir, { recursive: true })
  const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--pack-destination', outDir], { cwd: stage })
  const [packed] = JSON.parse(stdout) as Array<{ filename: string }>
  return join(outDir, packed?.filename ?? '')
}

if (isMain(import.meta.url)) {
  const swallowed = swallowedByNpm(process.env, OPTIONS, process.argv.slice(2))
  if (swallowed !== undefined) { console.error(`pack:verifier: ${swallowed}`); process.exit(2) }
  let args
  try {
    args = parseArgs({ args: process.argv.slice(2), options: OPTIONS, strict: true }).values
  } catch (err) {
    console.error(`pack:verifier: ${(err as Error).message}\n${USAGE}`)
    process.exit(2)
  }
  if (args.help === true) { console.log(USAGE); process.exit(0) }
  packVerifier(ROOT, resolve(args.out ?? join(ROOT, 'dist'))).then(path => { console.log(path) }, (err: unknown) => {
    console.error(`pack:verifier: ${(err as Error).message}`)
    process.exitCode = 1
  })
}
