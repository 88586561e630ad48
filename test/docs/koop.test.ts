// Issue 18 (with issue 14's rule that every documented command runs as written): docs/koop.md's walk-through, run
// in a fresh checkout's layout: `npm start` (geotoken), then `node examples/koop/server.js` beside it, then every
// ArcGIS client request of the page with curl, each documented answer checked, and Koop's log of the session.
// Only the ports differ from the page (geotoken's and Koop's; the Koop app is told geotoken's through its
// documented GEOTOKEN_ISSUER and PORT variables).
import t from 'tap'
import { checkoutReplica, checkOutputs, failure, runScenario, scenario } from '../helpers/doctest.js'
import { freePort } from '../helpers/net.js'

t.setTimeout(900_000)

t.test('docs/koop.md runs as written: geotoken, the example Koop app beside it, and an ArcGIS client\'s requests', { timeout: 300_000 }, async t => {
  const blocks = await scenario('koop')
  const starts = blocks.filter(b => b.attrs.background)
  t.same(starts.map(b => b.text.trim()), ['npm start', 'node examples/koop/server.js'], 'the page starts geotoken, then the Koop app beside it')
  t.ok(starts[1]?.attrs.alongside, 'in a second terminal: geotoken keeps running')
  t.ok(blocks.some(b => b.attrs.output && b.attrs.log), 'and shows Koop\'s log of the session')
  const dir = await checkoutReplica(t.testdir())
  const geotoken = await freePort()
  const koop = await freePort()
  const replace = {
    '127.0.0.1:3000': `127.0.0.1:${geotoken}`,
    '127.0.0.1:8080': `127.0.0.1:${koop}`,
    'node examples/koop/server.js': `GEOTOKEN_ISSUER=http://127.0.0.1:${geotoken} PORT=${koop} node examples/koop/server.js`
  }
  const run = await runScenario(blocks, dir, { PORT: String(geotoken) }, replace)
  t.equal(run.code, 0, `every block ran\n${failure(run)}`)
  t.same(checkOutputs(blocks, run, replace), [], 'each documented output was printed')
})
