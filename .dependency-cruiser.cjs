// The dependency rules of geotoken's source (issue 15), checked by `npm run check:deps` and test/architecture.test.ts.
// Layers, lowest first: a module may import its own layer or a lower one, never a higher one. Within a layer the
// no-cycle rule is what keeps folders apart (tokens/ signs with keys/' ring, clients/ checks tokens/' claim syntax).
// src/*.ts (app.ts, server.ts, config.ts, logger.ts, npm-options.ts) is the top; scripts/ and bench/ may use any layer.
const LAYERS = [
  ['shared'], // what every layer shares: errors, problem+json, audit, the log type, Bearer parsing, file primitives
  ['keys', 'clients', 'tokens'], // domain cores (their plugin.ts files are thin Fastify adapters)
  ['verifier'], // the one token verification core, the guard and the remote verifier
  ['ops'], // process-level concerns: health/readiness, overload, the metrics registry, security headers, docs UI, GET /
  ['oauth', 'features', 'koop'] // the authorization server, the OGC API - Features, the Koop plugin
]

/** A module of a folder of layer `rank` may reach only the folders of its own and the lower layers. */
function layerRule (folder, rank) {
  const allowed = LAYERS.slice(0, rank + 1).flat()
  return {
    name: `layer-${folder}`,
    severity: 'error',
    comment: `src/${folder}/ (layer ${rank}) may import only src/{${allowed.join(',')}}/ and packages`,
    from: { path: `^src/${folder}/` },
    to: { path: '^src/', pathNot: `^src/(${allowed.join('|')})/` }
  }
}

const RULES = [
  ...LAYERS.flatMap((folders, rank) => folders.map(folder => layerRule(folder, rank))),
  {
    name: 'no-cycle',
    severity: 'error',
    comment: 'no circular imports: each module can be read (and loaded) after the ones it imports',
    from: { path: '^(src|scripts|bench)/' },
    to: { circular: true }
  },
  {
    name: 'src-stands-alone',
    severity: 'error',
    comment: 'the service never imports its scripts, benchmarks or tests',
    from: { path: '^src/' },
    to: { path: '^(scripts|bench|test)/' }
  }
]

module.exports = {
  forbidden: RULES,
  options: {
    includeOnly: '^(src|scripts|bench|test)/',
    // Type-only imports count: a type from a higher layer couples the code just as much.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'node', 'default'] }
  }
}
