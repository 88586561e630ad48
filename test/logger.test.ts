// The logging policy: what an access line keeps, and that credentials never reach a line.
import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { loggerOptions, redactUrl } from '../src/logger.js'

function capture (): { log: pino.Logger, text: () => string, lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = []
  const stream = new Writable({ write (chunk, _e, cb) { chunks.push(String(chunk)); cb() } })
  const options = loggerOptions('info') as pino.LoggerOptions
  return { log: pino(options, stream), text: () => chunks.join(''), lines: () => chunks.map(c => JSON.parse(c) as Record<string, unknown>) }
}

t.test('req keeps method, redacted URL, id and address: never headers or a body, whatever is logged as req', async t => {
  const { log, text, lines } = capture()
  const request = {
    method: 'POST', url: '/oauth/token?client_secret=hunter2&x=1', id: 'req-7', ip: '10.0.0.1',
    headers: { authorization: 'Basic YWNtZTpodW50ZXIy', cookie: 'session=s3cret' }, body: { client_secret: 'hunter2' }, raw: { headers: { authorization: 'Bearer eyJ.x.y' } }
  }
  log.info({ req: request }, 'request completed')
  t.same(lines()[0]?.req, { method: 'POST', url: '/oauth/token?client_secret=[Redacted]&x=1', id: 'req-7', remoteAddress: '10.0.0.1' })
  for (const secret of ['hunter2', 'YWNtZTpodW50ZXIy', 's3cret', 'eyJ.x.y']) t.notOk(text().includes(secret), `${secret} is not in the line`)
})

t.test('credential fields at the top level or under headers and body are censored', async t => {
  const { log, lines } = capture()
  log.info({ headers: { authorization: 'Bearer eyJ.x.y' }, body: { client_secret: 'a', assertion: 'b', refresh_token: 'c', token: 'd' }, client_secret: 'e', access_token: 'f', refresh_token: 'g', assertion: 'h', privateKey: 'i', privateJwk: 'j' }, 'x')
  const line = lines()[0] ?? {}
  t.equal((line.headers as Record<string, unknown>).authorization, '[Redacted]')
  t.same(line.body, { client_secret: '[Redacted]', assertion: '[Redacted]', refresh_token: '[Redacted]', token: '[Redacted]' })
  for (const key of ['client_secret', 'access_token', 'refresh_token', 'assertion', 'privateKey', 'privateJwk']) t.equal(line[key], '[Redacted]', key)
})

t.test('redactUrl censors every credential-bearing query parameter, in any case, and nothing else', async t => {
  t.equal(redactUrl('/x?access_token=a&Token=b&CLIENT_SECRET=c&assertion=d&refresh_token=e&bbox=1,2,3,4'),
    '/x?access_token=[Redacted]&Token=[Redacted]&CLIENT_SECRET=[Redacted]&assertion=[Redacted]&refresh_token=[Redacted]&bbox=1,2,3,4')
  t.equal(redactUrl('/features/collections/sites/items?limit=10'), '/features/collections/sites/items?limit=10')
  t.equal(redactUrl('/x?mytoken=a'), '/x?mytoken=a', 'only whole parameter names')
})
