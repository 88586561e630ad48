// tap's `before` program: tests that run the npm scripts (npm start, rotate-keys, clients) need a fresh dist/.
// Builds only when a source changed since the last build, so a single-file run pays a few ms when nothing did.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildState } from '../scripts/build-state.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
if (buildState(root, 'dist/src/server.js').state !== 'fresh') {
  const { status } = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' })
  process.exit(status ?? 1)
}
