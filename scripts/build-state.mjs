// Owns "is the compiled JavaScript there and newer than its sources?", in plain JavaScript: it runs before any build.
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/** Written by scripts/build.mjs after each successful build, dated when that build started. */
export const BUILD_STAMP = join('dist', '.build-stamp')
const SOURCES = ['src', 'scripts']
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json']

function newest (root, path) {
  let found = { path: undefined, mtimeMs: -Infinity }
  let entries
  try { entries = readdirSync(join(root, path), { withFileTypes: true }) } catch { return found }
  for (const entry of entries) {
    const child = join(path, entry.name)
    const candidate = entry.isDirectory() ? newest(root, child)
      : child.endsWith('.ts') ? { path: child, mtimeMs: statSync(join(root, child)).mtimeMs } : found
    if (candidate.mtimeMs > found.mtimeMs) found = candidate
  }
  return found
}

/**
 * 'missing' when `entry` (a compiled file) or the build stamp is absent, 'stale' when a TypeScript source or a
 * tsconfig changed after the last build (`changed` names it), 'fresh' otherwise. Stats every source: ~100 files, a few ms.
 */
export function buildState (root, entry) {
  let stampMs
  try {
    statSync(join(root, entry))
    stampMs = statSync(join(root, BUILD_STAMP)).mtimeMs
  } catch {
    return { state: 'missing' }
  }
  let latest = { path: undefined, mtimeMs: -Infinity }
  for (const dir of SOURCES) {
    const candidate = newest(root, dir)
    if (candidate.mtimeMs > latest.mtimeMs) latest = candidate
  }
  for (const file of CONFIGS) {
    try {
      const mtimeMs = statSync(join(root, file)).mtimeMs
      if (mtimeMs > latest.mtimeMs) latest = { path: file, mtimeMs }
    } catch {}
  }
  return latest.mtimeMs > stampMs ? { state: 'stale', changed: relative(root, join(root, latest.path)) } : { state: 'fresh' }
}
