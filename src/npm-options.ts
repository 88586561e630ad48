// Owns one trap of `npm run`: options written before `--` are taken by npm for itself, so the script never sees them.

/** A script's options by name, as node:util parseArgs declares them. */
export type OptionTypes = Readonly<Record<string, { type: 'boolean' | 'string' }>>

/**
 * Which of `names` npm took for itself, as typed (`--dry-run`, `--port=4000`). npm exports an option it took as
 * `npm_config_<name>` and passes a value that followed it (`--org acme`) to the script as a bare argument.
 * Empty when npm did not start the script (no npm_lifecycle_event).
 */
export function takenByNpm (env: Record<string, string | undefined>, names: readonly string[]): Array<{ name: string, value: string, typed: string }> {
  if (env.npm_lifecycle_event === undefined) return []
  return names.flatMap(name => {
    const value = env[`npm_config_${name.replace(/-/g, '_')}`]
    if (value === undefined || value === '' || value === 'false') return []
    return [{ name, value, typed: value === 'true' ? `--${name}` : `--${name}=${value}` }]
  })
}

/**
 * A script that went on without the options npm took would do something other than what was typed
 * (`npm run rotate-keys --dry-run` rotated for real), so it must refuse instead. Returns the refusal with the right
 * form of the command, or undefined when none of the script's options was taken.
 */
export function swallowedByNpm (env: Record<string, string | undefined>, options: OptionTypes, argv: readonly string[]): string | undefined {
  const taken = takenByNpm(env, Object.keys(options))
  if (taken.length === 0) return undefined
  const script = env.npm_lifecycle_event as string
  const typed = taken.map(t => t.typed)
  // A boolean flag can be written back exactly; a string option's value may have been split off by npm.
  const exact = taken.every(({ name, value }) => options[name]?.type === 'boolean' && value === 'true')
  const rightForm = exact
    ? `npm run ${script} -- ${[...typed, ...argv].join(' ')}`
    : `npm run ${script} -- ${taken.map(t => options[t.name]?.type === 'string' ? `--${t.name} ${t.name.toUpperCase()}` : `--${t.name}`).join(' ')} …`
  return `npm took ${typed.join(' ')} for itself (written before \`--\`), so ${script} never saw ` +
    `${taken.length === 1 ? 'it' : 'them'} and did nothing. Put the script's options after \`--\`: ${rightForm}`
}
