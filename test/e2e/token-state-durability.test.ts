// Issue 16, embedded default: token state acknowledged before a SIGKILL is there after a restart. The real process
// (src/server.ts) with no STATE_STORE set, a real identity provider over HTTP for the jwt-bearer grant; every check
// after the restart goes through the HTTP API, as a client would see it.
import t from 'tap'
import { stateService, type Tokens } from '../helpers/state-service.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('after kill -9 and a restart: revocations hold, a rotated refresh token works once and reuse of its predecessor revokes the family, an assertion cannot be replayed', async t => {
  const s = await stateService(t)
  const json = async (res: Response): Promise<Tokens> => {
    if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`)
    return await res.json() as Tokens
  }

  // (1) An access token revoked with a 200.
  const revokedToken = await s.token()
  t.equal(await s.items(revokedToken), 200, 'the token works before its revocation')
  t.equal((await s.post(s.plain, 'revoke', `token=${revokedToken}`)).status, 200, 'revoke answered 200')
  t.equal(await s.items(revokedToken), 401, 'and the guard refuses it')
  const untouched = await s.token()

  // (2) Two refresh families, each rotated once. Family A's newest token will be used after the restart; family B's
  // spent predecessor will be replayed after it.
  const a1 = await json(await s.exchange(await s.assertion()))
  const a2 = await json(await s.refresh(a1.refresh_token as string))
  const b1 = await json(await s.exchange(await s.assertion()))
  const b2 = await json(await s.refresh(b1.refresh_token as string))
  t.equal(await s.items(b2.access_token), 200, 'family B\'s newest access token works')

  // (3) An assertion exchanged with a 200.
  const used = await s.assertion()
  await json(await s.exchange(used))
  t.equal((await s.exchange(used)).status, 400, 'its replay is refused before the restart')

  await s.killAndRestart()

  t.equal(await s.items(revokedToken), 401, '(1) the revoked token is still refused by the guard')
  t.equal(await s.active(s.plain, revokedToken), false, '(1) and introspection answers inactive')
  t.equal(await s.items(untouched), 200, 'a token never revoked still works')
  t.equal(await s.active(s.plain, untouched), true)

  const a3res = await s.refresh(a2.refresh_token as string)
  t.equal(a3res.status, 200, '(2) the rotated refresh token still works')
  const a3 = await json(a3res)
  const a2again = await s.refresh(a2.refresh_token as string)
  t.equal(a2again.status, 400, '(2) once')
  t.match(await a2again.json(), { error: 'invalid_grant' })
  t.equal((await s.refresh(a3.refresh_token as string)).status, 400, 'and its second use revoked the family: its successor is dead too')

  const b1again = await s.refresh(b1.refresh_token as string)
  t.equal(b1again.status, 400, '(2) the predecessor spent before the crash is still seen as spent')
  t.match(await b1again.json(), { error: 'invalid_grant', error_description: /already used/ }, 'as reuse')
  t.equal((await s.refresh(b2.refresh_token as string)).status, 400, '(2) its family is revoked: the newest refresh token is refused')
  t.equal(await s.items(b2.access_token), 401, '(2) and so is the family\'s access token')

  const replay = await s.exchange(used)
  t.equal(replay.status, 400, '(3) the assertion accepted before the crash cannot be replayed after it')
  t.match(await replay.json(), { error: 'invalid_grant', error_description: /already been used/ })
  t.equal((await s.exchange(await s.assertion())).status, 200, 'a fresh assertion is accepted')
})

t.test('revocations acknowledged under load survive a kill -9 in the middle of the stream, three times over', async t => {
  const s = await stateService(t)
  const acked: string[] = []
  for (let cycle = 1; cycle <= 3; cycle++) {
    let stop = false
    let cut = 0
    const sender = async (): Promise<void> => {
      while (!stop) {
        try {
          const token = await s.token()
          const res = await s.post(s.plain, 'revoke', `token=${token}`)
          await res.arrayBuffer()
          if (res.status === 200) acked.push(token)
          else throw new Error(`revoke answered ${res.status}`)
        } catch (err) {
          if ((err as Error).message.startsWith('revoke answered')) throw err
          cut++ // the connection died with the process: not acknowledged
          if (!stop) await sleep(5)
        }
      }
    }
    const before = acked.length
    const senders = Array.from({ length: 8 }, sender)
    await sleep(400 + Math.random() * 600)
    await s.killAndRestart().finally(() => { stop = true })
    await Promise.all(senders)
    t.ok(acked.length > before, `cycle ${cycle}: ${acked.length - before} revocations acknowledged before the kill (${cut} cut off)`)
    const working: string[] = []
    for (const token of acked) if (await s.items(token) !== 401) working.push(token.slice(-12))
    t.strictSame(working, [], `after restart ${cycle}: all ${acked.length} acknowledged revocations are refused by the guard`)
  }
  const sample = acked.filter((_, i) => i % 10 === 0)
  const active = await Promise.all(sample.map(async token => await s.active(s.plain, token)))
  t.equal(active.filter(Boolean).length, 0, `and by introspection (${sample.length} sampled)`)
})
