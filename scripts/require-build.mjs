// Preloaded by `npm start` and the admin scripts (node --import): refuses, at once and saying what to do, to run a
// missing or stale build. Building is `npm run build` (npm install/ci runs it too); `npm run dev` rebuilds on change.
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildState } from './build-state.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const entry = relative(root, resolve(process.argv[1] ?? ''))
const { state, changed } = buildState(root, entry)
if (state !== 'fresh') {
  const why = state === 'missing'
    ? `there is no build yet (${entry} is missing)`
    : `the build is older than the sources (${changed} changed since the last build)`
  process.stderr.write(`geotoken: ${why}. Run \`npm run build\` once (about half a minute; npm install does it too), ` +
    'then run this command again; `npm run dev` runs the service from the sources and restarts it on every change.\n')
  process.exit(1)
}
