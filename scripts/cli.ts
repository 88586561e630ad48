// Owns "was this module started as the program?" for the admin scripts, which also export their logic for tests.
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/**
 * True when `moduleUrl` is the file node was asked to run. Both sides are real paths: node resolves symlinks
 * in import.meta.url but not in process.argv[1], so a checkout reached through a symlink would otherwise
 * run nothing and exit 0.
 */
export function isMain (moduleUrl: string): boolean {
  const entry = process.argv[1]
  if (entry === undefined) return false
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href
  } catch {
    return false
  }
}
