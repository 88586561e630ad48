// Issue 16: the real process unable to write its token state (a file-size limit set with prlimit on its pid, as a full
// disk would fail the write): every state change answers 503 temporarily_unavailable with Retry-After and stores
// nothing; issuing and verifying go on; once the limit is lifted the same requests succeed, and survive a kill -9.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { stateService, type Tokens } from '../helpers/state-service.js'
import type { ServerProcess } from '../helpers/process.js'

/** RLIMIT_FSIZE of the running process: with 1 byte every write past the file's first byte fails with EFBIG. */
function limitFileSize (proc: ServerProcess, bytes: number | 'unlimited'): void {
  execFileSync('prlimit', ['--pid', String(proc.child.pid), `--fsize=${bytes}:unlimited`])
}

t.test('a state change that cannot be written answers 503 + Retry-After and stores nothing; after the disk recovers it is made and kept', async t => {
  const s = await stateService(t)
  const ok = async (res: Response): Promise<Tokens> => {
    if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${await res.text()}`)
    return await res.json() as Tokens
  }
  const unavailable = async (res: Response, what: string): Promise<void> => {
    t.equal(res.status, 503, `${what}: 503`)
    t.equal(res.headers.get('retry-after'), '5', `${what}: with Retry-After`)
    t.match(await res.json(), { error: 'temporarily_unavailable' }, `${what}: temporarily_unavailable`)
  }
  const token = await s.token()
  const first = await ok(await s.exchange(await s.assertion()))
  const assertion = await s.assertion()

  limitFileSize(s.proc, 1)
  await unavailable(await s.post(s.plain, 'revoke', `token=${token}`), 'revoke')
  t.equal(await s.items(token), 200, 'the token was not revoked, and no answer said it was')
  await unavailable(await s.refresh(first.refresh_token as string), 'refresh')
  await unavailable(await s.exchange(assertion), 'jwt-bearer')
  t.equal((await s.post(s.plain, 'token', 'grant_type=client_credentials')).status, 200, 'a grant that stores no state is still issued')
  t.equal(await s.active(s.plain, token), true, 'introspection still answers (from what is stored)')

  limitFileSize(s.proc, 'unlimited')
  t.equal((await s.post(s.plain, 'revoke', `token=${token}`)).status, 200, 'with the disk back, the same revocation succeeds')
  t.equal(await s.items(token), 401)
  await ok(await s.refresh(first.refresh_token as string))
  t.pass('the refresh token refused with 503 was not spent: it rotates now')
  await ok(await s.exchange(assertion))
  t.pass('the assertion refused with 503 was not recorded: it is accepted now, once')

  await s.killAndRestart()
  t.equal(await s.items(token), 401, 'after kill -9 and a restart the revocation holds')
  t.equal((await s.refresh(first.refresh_token as string)).status, 400, 'the spent refresh token stays spent')
  t.equal((await s.exchange(assertion)).status, 400, 'the assertion stays used')
  t.notMatch(s.proc.output().stderr + s.proc.output().stdout, /APP_TOKEN_STATE/, 'the store opened after the failed writes, with nothing to report')
})
