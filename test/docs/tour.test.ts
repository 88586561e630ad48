// Issue 14: the README's five-minute tour, run as written in a fresh checkout's layout: `npm start` on the embedded
// defaults (only the port differs), then every command of the tour against it, each documented output checked.
import t from 'tap'
import { checkoutReplica, checkOutputs, failure, runScenario, scenario } from '../helpers/doctest.js'
import { freePort } from '../helpers/net.js'

t.setTimeout(900_000)

t.test('the README tour runs as written against npm start', { timeout: 300_000 }, async t => {
  const blocks = await scenario('tour')
  t.ok(blocks.filter(b => !b.attrs.output).length >= 5, 'the tour has its runnable blocks')
  t.ok(blocks.some(b => b.attrs.background && b.text.trim() === 'npm start'), 'and starts the service with npm start')
  const dir = await checkoutReplica(t.testdir())
  const port = await freePort()
  const replace = { '127.0.0.1:3000': `127.0.0.1:${port}` }
  const run = await runScenario(blocks, dir, { PORT: String(port) }, replace)
  t.equal(run.code, 0, `every block ran\n${failure(run)}`)
  t.same(checkOutputs(blocks, run, replace), [], 'each documented output was printed')
})

t.test('the tour\'s token recipe fails loudly on an error answer instead of capturing it as the token', { timeout: 300_000 }, async t => {
  const blocks = (await scenario('tour')).filter(b => b.attrs.background || b.text.includes('TOKEN=$('))
  t.equal(blocks.length, 2, 'npm start and the token recipe')
  const recipe = blocks[1]
  if (recipe === undefined) return
  const dir = await checkoutReplica(t.testdir())
  const port = await freePort()
  const run = await runScenario([blocks[0] as typeof recipe, { ...recipe, attrs: { ...recipe.attrs, exit: 1 } }], dir, { PORT: String(port) }, {
    '127.0.0.1:3000': `127.0.0.1:${port}`,
    'require("./data/demo-credentials.json").acme.client_secret': '"not-the-secret"'
  })
  t.equal(run.code, 0, `the recipe exits 1 on a wrong secret\n${failure(run)}`)
  t.match(run.outputs.get(1), /error: 'invalid_client'/, 'and shows the error answer')
})
