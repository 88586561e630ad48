// `npm run build` (also run by npm install/ci through `prepare`): compiles src/ and scripts/ to dist/ once, then
// stamps the build with its start time, so a source saved while tsc ran still counts as newer (scripts/build-state.mjs).
import { spawnSync } from 'node:child_process'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BUILD_STAMP } from './build-state.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const started = new Date()
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
if (status !== 0) process.exit(status ?? 1)
mkdirSync(join(root, 'dist'), { recursive: true })
writeFileSync(join(root, BUILD_STAMP), `${started.toISOString()}\n`)
utimesSync(join(root, BUILD_STAMP), started, started)
