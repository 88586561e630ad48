// Issue 14: every command and snippet in README.md and docs/ runs as written. Each runnable block is marked with
// its scenario (test/helpers/doctest.ts); this file checks that nothing runnable is unmarked, and runs the
// scenarios of the reference pages in a fresh checkout's layout. The tour, the verifier page and the Koop page have
// their own files (test/docs/tour.test.ts, test/e2e/package.test.ts, test/docs/koop.test.ts).
import t from 'tap'
import { access, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { allBlocks, checkoutReplica, checkOutputs, failure, ROOT, runScenario, scenario, type Block } from '../helpers/doctest.js'
import { freePort } from '../helpers/net.js'

t.setTimeout(900_000)

const RUN_ELSEWHERE = new Set(['tour', 'verifier', 'koop'])
const RUN_HERE = ['configuration', 'keys', 'clients', 'features', 'operations', 'federation']
const CODE = new Set(['', 'sh', 'bash', 'shell', 'console', 'ts', 'typescript', 'js', 'javascript', 'mjs'])

t.test('every shell command and code snippet of the docs is run by a test, or says why not', async t => {
  const blocks = await allBlocks()
  for (const b of blocks.filter(b => CODE.has(b.lang))) {
    const where = `${b.file}:${b.line}`
    if (b.scenario === 'skip') { t.ok(b.rest.split(' ').length >= 3, `${where} is skipped with a reason: ${b.rest}`); continue }
    t.ok(RUN_ELSEWHERE.has(b.scenario) || RUN_HERE.includes(b.scenario), `${where} (${b.lang || 'no language'}) belongs to a scenario a test runs: "${b.scenario}"`)
  }
  for (const b of blocks.filter(b => b.attrs.output)) {
    const before = blocks[blocks.indexOf(b) - 1]
    // A log (what a background command has printed so far) may follow another output: it is not the previous block's.
    t.ok(before !== undefined && before.scenario === b.scenario && (b.attrs.log || !before.attrs.output) && before.file === b.file, `${b.file}:${b.line}: an output follows the block that prints it`)
  }
  for (const name of [...RUN_ELSEWHERE, ...RUN_HERE]) t.ok(blocks.some(b => b.scenario === name && !b.attrs.output), `scenario ${name} has runnable blocks`)
})

t.test('the links between README.md and docs/ point to files and headings that exist', async t => {
  const files = [...new Set((await allBlocks()).map(b => b.file))]
  for (const file of files) {
    const text = await readFile(join(ROOT, file), 'utf8')
    for (const [, target] of text.matchAll(/\]\((?!https?:|mailto:)([^)\s]+)\)/g)) {
      const [path, anchor] = (target as string).split('#') as [string, string | undefined]
      const resolved = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), path)
      const exists = await access(resolved).then(() => true, () => false)
      t.ok(exists, `${file}: link to ${target} resolves`)
      if (exists && anchor !== undefined && resolved.endsWith('.md')) {
        const slugs = (await readFile(resolved, 'utf8')).split('\n').filter(l => l.startsWith('#')).map(l => l.replace(/^#+\s*/, '').toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'))
        t.ok(slugs.includes(anchor), `${file}: anchor #${anchor} exists in ${path || file}`)
      }
    }
  }
})

/** The tour's first steps: npm start, then acme's credentials and a token (what the reference pages assume). */
async function tourSteps (withToken: boolean): Promise<Block[]> {
  const tour = await scenario('tour')
  return tour.filter(b => b.attrs.background || (withToken && b.text.includes('TOKEN=$(')))
}

const setups: Record<string, () => Promise<Block[]>> = {
  configuration: async () => [],
  keys: async () => await tourSteps(false),
  clients: async () => await tourSteps(false),
  features: async () => await tourSteps(true),
  operations: async () => [],
  federation: async () => []
}

for (const name of RUN_HERE) {
  t.test(`the ${name} page runs as written`, { timeout: 600_000 }, async t => {
    const blocks = [...await (setups[name] as () => Promise<Block[]>)(), ...await scenario(name)]
    const dir = await checkoutReplica(t.testdir())
    const port = await freePort()
    // The documented ports (3000, and 8080 in the configuration page) become free ones.
    const replace = { '127.0.0.1:3000': `127.0.0.1:${port}`, 8080: String(await freePort()) }
    const run = await runScenario(blocks, dir, { PORT: String(port) }, replace)
    t.equal(run.code, 0, `every block ran\n${failure(run)}`)
    t.same(checkOutputs(blocks, run, replace), [], 'each documented output was printed')
    if (name === 'clients') {
      // Issue 14: the documented --json form prints exactly one JSON object, in the documented shape.
      const jsonBlock = blocks.findIndex(b => b.text.includes('add-client') && b.text.includes('--json') && !b.text.includes('$('))
      const printed = JSON.parse(run.outputs.get(jsonBlock) ?? '') as Record<string, unknown>
      t.same(Object.keys(printed), ['client_id', 'client_secret'], 'add-client --json through npm run --silent is pure JSON')
      t.match(printed, { client_id: /^initech-[0-9a-f]{16}$/, client_secret: /^[A-Za-z0-9_-]{43}$/ })
    }
  })
}
