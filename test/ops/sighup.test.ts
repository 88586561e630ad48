// SIGHUP reloads keys and clients; one that arrives while the process is still starting must not end it (issue 13).
import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { processFixture, startServer as start } from '../helpers/process.js'
import { COLLECTIONS } from '../helpers/app.js'

/** Enough features that loading and indexing them keeps the process from listening for a while. */
function bigSeed (count: number): string {
  const features = Array.from({ length: count }, (_, i) => ({
    type: 'Feature', id: `f${i}`, org: 'acme', collection: 'sites',
    geometry: { type: 'Point', coordinates: [(i % 359) - 179.5, (i % 169) - 84.5] },
    properties: { name: `site ${i}`, kind: 'depot', observed_at: '2025-01-01T00:00:00Z' }
  }))
  return JSON.stringify({ type: 'FeatureCollection', collections: COLLECTIONS, features })
}

t.test('a SIGHUP during start-up (the store still loading) does not end the process: it starts, then reloads', async t => {
  const { base, env } = await processFixture(t, { LOG_LEVEL: 'info' })
  const seed = join(dirname(env.SEED_FILE as string), 'big-seed.geojson')
  await writeFile(seed, bigSeed(100_000))
  const proc = start({ ...env, SEED_FILE: seed })
  t.teardown(() => { proc.child.kill('SIGKILL') })
  // The key ring is generated before the stores open: from then on the process is loading, not yet listening.
  await proc.waitFor(/"event":"keys\.generated"/)
  const atSignal = proc.output().stdout
  proc.child.kill('SIGHUP')
  t.match(atSignal, /"event":"keys\.generated"/, 'the signal came after the key ring was made')
  t.notMatch(atSignal, /geotoken listening on/, 'and before the process listened')

  await proc.ready()
  t.equal(proc.child.exitCode, null, 'still running')
  t.equal(proc.child.signalCode, null, 'not ended by the signal')
  // pino writes asynchronously: its line may reach the pipe after the (synchronous) "listening" line.
  await proc.waitFor(/"event":"reload\.signal"/)
  t.match(proc.output().stdout, /"event":"reload\.signal","during_start":true/, 'the early SIGHUP was served once the app existed')
  t.equal((await fetch(`${base}/ready`)).status, 200)

  proc.child.kill('SIGHUP')
  await proc.waitFor(/"event":"reload\.signal","during_start":false/)
  t.match(proc.output().stdout, /"event":"reload\.signal","during_start":false/, 'a SIGHUP once listening reloads at once')
  t.equal((await fetch(`${base}/health`)).status, 200)
})
