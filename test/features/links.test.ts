import t from 'tap'
import { pageLinks, url } from '../../src/features/links.js'

const BASE = 'https://geo.example/features'
const params = (href: string): Record<string, string> => Object.fromEntries(new URL(href).searchParams)

t.test('url percent-encodes every key and value so a query parser reads back the same strings', async t => {
  const awkward = { 'a b': 'x&y=z', datetime: '2024-01-01T00:00:00Z/..', name: 'Zürich + Genève', empty: '' }
  const href = url(BASE, '/collections/sites/items', awkward)
  t.same(params(href), awkward)
  t.equal(url(BASE, '/conformance'), `${BASE}/conformance`, 'no parameters, no "?"')
  t.equal(url(BASE, '/conformance', {}), `${BASE}/conformance`, 'an empty set, no "?"')
})

t.test('pageLinks: self repeats the request; next and prev keep every other parameter with a new offset', async t => {
  const raw = { bbox: '5,47,7,49', limit: '10', offset: '20', 'properties.kind': 'a&b' }
  const links = pageLinks(BASE, '/collections/sites/items', raw, 20, 10, 10, 45)
  const byRel = Object.fromEntries(links.map(l => [l.rel, l]))
  t.same(Object.keys(byRel), ['self', 'next', 'prev'])
  t.same(params(byRel.self?.href ?? ''), raw)
  t.same(params(byRel.next?.href ?? ''), { ...raw, offset: '30' })
  t.same(params(byRel.prev?.href ?? ''), { ...raw, offset: '10' })
  t.equal(byRel.next?.type, 'application/geo+json')
})

t.test('pageLinks: no next on the last page, no prev on the first, prev never below 0', async t => {
  t.same(pageLinks(BASE, '/c', {}, 0, 10, 5, 5).map(l => l.rel), ['self'])
  const last = pageLinks(BASE, '/c', { limit: '10', offset: '5' }, 5, 10, 3, 8)
  t.same(last.map(l => l.rel), ['self', 'prev'])
  t.same(params(last[1]?.href ?? ''), { offset: '0', limit: '10' })
  t.same(params(pageLinks(BASE, '/c', {}, 0, 10, 10, 11)[1]?.href ?? ''), { offset: '10', limit: '10' }, 'limit is written even when the request left it to the default')
})
