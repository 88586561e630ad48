// Makes `geotoken/koop` resolve to the TypeScript source while tests run, so the example Koop app (which imports
// the package entry point as any user would) is tested against this checkout and not a dist/ that may be stale.
// Imported (or `node --import`-ed), it registers itself as a module resolution hook.
import { register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

const source = new URL('../../src/koop/plugin.ts', import.meta.url).href

export async function resolve (specifier, context, next) {
  // Through the next hook, so whichever TypeScript loader runs (tap's, tsx) sees a .ts URL it knows.
  if (specifier === 'geotoken/koop') return await next(source, context)
  return await next(specifier, context)
}

// The hooks run in their own thread, which loads this module again: only the main thread registers.
if (isMainThread) register(import.meta.url)
