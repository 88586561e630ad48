// Issue 14: Swagger UI at /docs in a real browser (Debian's chromium, headless): "Authorize" with a client's id and
// secret through the client-credentials flow, then "Try it out" on a collection's items route returns features.
import t from 'tap'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer, { type ElementHandle } from 'puppeteer-core'
import { listenIssuer } from '../helpers/net.js'
import { basic, form } from '../helpers/app.js'

const CHROMIUM = '/usr/bin/chromium'
const WAIT = { timeout: 30_000 }

t.test('Swagger UI authorizes through client credentials and Try it out on the items route shows features', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)` }, async t => {
  const { base, clients } = await listenIssuer(t)
  const profile = await mkdtemp(join(tmpdir(), 'geotoken-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(async () => { await browser.close(); await rm(profile, { recursive: true, force: true }) })
  const page = await browser.newPage()
  const requests: Array<{ url: string, authorization: string | undefined, body: string | undefined }> = []
  page.on('request', r => { requests.push({ url: r.url(), authorization: r.headers().authorization, body: r.postData() }) })

  await page.goto(`${base}/docs`, { waitUntil: 'networkidle0', ...WAIT })
  await page.click('.btn.authorize')
  await page.waitForSelector('#client_id_clientCredentials', WAIT)
  t.match(await page.$eval('.modal-ux', e => e.textContent), `Token URL: ${base}/oauth/token`, 'the flow points at this issuer\'s token endpoint')
  await page.type('#client_id_clientCredentials', clients.acme.id)
  await page.type('#client_secret_clientCredentials', clients.acme.secret)
  // No scope ticked: the UI then sends scope= (empty), which means "all the client may have" (RFC 6749 §3.1).
  await page.click('.auth-container button[aria-label="Apply given OAuth2 credentials"]')
  await page.waitForFunction(() => [...document.querySelectorAll('.auth-container button')].some(b => b.textContent === 'Logout'), WAIT)
  const tokenRequest = requests.find(r => r.url === `${base}/oauth/token`)
  t.match(tokenRequest?.body, /grant_type=client_credentials/, 'the UI asked the token endpoint')
  t.equal(tokenRequest?.authorization, basic(clients.acme.id, clients.acme.secret).authorization, 'with the client\'s id and secret (client_secret_basic)')
  await page.click('.close-modal')

  const summary = await page.waitForSelector('xpath/.//*[contains(@class, "opblock-summary-path") and @data-path="/features/collections/sites/items"]', WAIT)
  if (summary === null) throw new Error('no items operation for the sites collection')
  await summary.click()
  const block = (await summary.evaluateHandle(e => e.closest('.opblock'))).asElement() as ElementHandle<Element>
  await (await block.waitForSelector('.try-out__btn', WAIT))?.click()
  const kind = await block.waitForSelector('tr[data-param-name="kind"] input', WAIT)
  t.ok(kind, 'the collection\'s queryable "kind" is offered as a parameter')
  await kind?.type('office')
  await (await block.$('.execute'))?.click()
  await block.waitForSelector('.live-responses-table tbody .response-col_status', WAIT)
  t.match(await block.$eval('.live-responses-table tbody .response-col_status', e => e.textContent), /^200/)
  const body = JSON.parse(await block.$eval('.live-responses-table .response-col_description pre', e => e.textContent ?? '')) as { type: string, features: Array<{ properties: { kind: string, org: string } }> }
  t.equal(body.type, 'FeatureCollection')
  t.ok(body.features.length > 0, `${body.features.length} features in the response`)
  t.ok(body.features.every(f => f.properties.kind === 'office' && f.properties.org === 'acme'), 'only acme\'s offices')
  const call = requests.find(r => r.url === `${base}/features/collections/sites/items?kind=office`)
  t.match(call?.authorization, /^Bearer ey/, 'the call carried the token the UI obtained')
})

t.test('an empty scope parameter is treated as omitted (RFC 6749 §3.1), as Swagger UI sends it', async t => {
  const { base, clients } = await listenIssuer(t)
  const res = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { ...form, ...basic(clients.acme.id, clients.acme.secret) }, body: 'grant_type=client_credentials&scope=' })
  t.equal(res.status, 200)
  t.equal((await res.json() as { scope: string }).scope, 'features:read features:write', 'all the client may have')
})
