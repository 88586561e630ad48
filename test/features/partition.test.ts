// Partition (static flatbush + rbush overlay) against brute force: random puts, moves, deletes, across rebuilds.
import t from 'tap'
import fc from 'fast-check'
import { Partition } from '../../src/features/embedded/partition.js'

type Box = [number, number, number, number]
/** The model: ids in first-insertion order with their box (null: no geometry) and JSON. */
type Model = Map<string, { box: Box | null, json: string }>

function put (p: Partition, m: Model, id: string, box: Box | null, json: string): void {
  p.put(id, json, NaN, box?.[0] ?? NaN, box?.[1] ?? NaN, box?.[2] ?? NaN, box?.[3] ?? NaN)
  const known = m.get(id)
  if (known === undefined) m.set(id, { box, json })
  else { known.box = box; known.json = json }
}

const hits = (box: Box | null, q: Box): boolean =>
  box !== null && box[0] <= q[2] && box[2] >= q[0] && box[1] <= q[3] && box[3] >= q[1]

/** What the partition answers: ids in order. */
function search (p: Partition, q: Box): string[] {
  const out: number[] = []
  p.search(q[0], q[1], q[2], q[3], out)
  return [...new Uint32Array(out).sort()].map(slot => p.id(slot))
}
const expected = (m: Model, q: Box): string[] => [...m].filter(([, v]) => hits(v.box, q)).map(([id]) => id)
const listed = (p: Partition): string[] => [...p.live()].map(slot => p.id(slot))

const boxArb = fc.tuple(fc.double({ min: -180, max: 180, noNaN: true }), fc.double({ min: -90, max: 90, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }))
  .map(([x, y, size]): Box => [x, y, Math.min(180, x + size), Math.min(90, y + size)])
const opArb = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), id: fc.integer({ min: 0, max: 400 }), box: fc.option(boxArb, { freq: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('touch' as const), id: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('del' as const), id: fc.integer({ min: 0, max: 400 }) }) }
)
const queryArb = fc.tuple(boxArb, fc.double({ min: 0, max: 120, noNaN: true }))
  .map(([b, grow]): Box => [Math.max(-180, b[0] - grow), Math.max(-90, b[1] - grow / 2), Math.min(180, b[2] + grow), Math.min(90, b[3] + grow / 2)])

t.test('search and order equal brute force through random puts, moves, property-only updates and deletes', async t => {
  let rebuildsCrossed = 0
  fc.assert(fc.property(fc.array(opArb, { minLength: 50, maxLength: 3000, size: 'max' }), fc.array(queryArb, { minLength: 5, maxLength: 20 }), (ops, queries) => {
    const p = new Partition()
    const m: Model = new Map()
    // A bulk load first (arrays only), then the static index is built, then writes go to the overlay.
    for (let i = 0; i < 300; i++) put(p, m, `b${i}`, i % 7 === 0 ? null : [i % 360 - 180, (i * 7) % 180 - 90, i % 360 - 180, (i * 7) % 180 - 90], `{"n":${i}}`)
    p.seal()
    for (const [n, op] of ops.entries()) {
      const id = `f${op.id}`
      if (op.kind === 'put') put(p, m, id, op.box, `{"v":${n}}`)
      else if (op.kind === 'touch' && m.has(id)) put(p, m, id, m.get(id)?.box ?? null, `{"touched":${n}}`) // same box: stays in the static index
      else if (op.kind === 'del') {
        const had = m.delete(id)
        if (p.delete(id) !== had) return false
      }
      // Check midway too, so answers are compared with a non-empty overlay.
      if (n === Math.floor(ops.length / 2) && !queries.every(q => JSON.stringify(search(p, q)) === JSON.stringify(expected(m, q)))) return false
    }
    if (ops.length > 1100) rebuildsCrossed++
    return queries.every(q => JSON.stringify(search(p, q)) === JSON.stringify(expected(m, q))) &&
      JSON.stringify(listed(p)) === JSON.stringify([...m.keys()]) &&
      [...m].every(([id, v]) => p.json(p.slot(id) as number) === v.json && JSON.stringify(p.box(p.slot(id) as number)) === JSON.stringify(v.box)) &&
      p.count === m.size
  }), { numRuns: 60, seed: 20251123 })
  t.ok(rebuildsCrossed > 5, `${rebuildsCrossed} runs wrote past the overlay's rebuild threshold`)
})

t.test('a rebuild keeps the order, drops deleted slots and keeps every answer', async t => {
  const p = new Partition()
  const m: Model = new Map()
  for (let i = 0; i < 5000; i++) put(p, m, `p${i}`, [(i * 37) % 360 - 180, (i * 11) % 180 - 90, (i * 37) % 360 - 180, (i * 11) % 180 - 90], `{"i":${i}}`)
  p.seal()
  const world: Box = [-180, -90, 180, 90]
  // 1,500 deletes and 1,500 moves: past max(1024, n/8), so at least one rebuild packs the slots.
  for (let i = 0; i < 1500; i++) { p.delete(`p${i * 3}`); m.delete(`p${i * 3}`) }
  for (let i = 0; i < 1500; i++) put(p, m, `p${i * 3 + 1}`, [10, 10, 11, 11], '{"moved":true}')
  const slots = [...p.live()]
  t.ok(slots[slots.length - 1] as number < 5000 - 1, 'deleted slots were packed away')
  t.strictSame(listed(p), [...m.keys()], 'the order is the first-insertion order')
  t.strictSame(search(p, world), expected(m, world))
  t.strictSame(search(p, [9.5, 9.5, 10.5, 10.5]), expected(m, [9.5, 9.5, 10.5, 10.5]), 'moved features are found at their new place')
  t.equal(search(p, [9.5, 9.5, 10.5, 10.5]).length, 1500)
  t.same(p.extent().box, [-180, -90, 179, 89])
  put(p, m, 'p0', null, '{"back":true}')
  t.equal(listed(p).at(-1), 'p0', 'a re-created id goes to the end')
})

t.test('a few deletes before the index is built (a journal replayed at start-up) leave holes the index skips', async t => {
  const p = new Partition()
  const m: Model = new Map()
  for (let i = 0; i < 10_000; i++) put(p, m, `s${i}`, [i % 100, i % 50, i % 100, i % 50], `{"i":${i}}`)
  for (let i = 0; i < 100; i += 10) { p.delete(`s${i}`); m.delete(`s${i}`) }
  p.seal()
  const world: Box = [-180, -90, 180, 90]
  t.equal(p.slot('s9999'), 9999, 'fewer than an eighth are holes: nothing was packed, so nothing moved')
  t.strictSame(search(p, world), expected(m, world))
  t.strictSame(listed(p), [...m.keys()])
  t.equal(p.count, 9990)
  // Enough deletes to rebuild the index (past max(1024, n/8) writes), and holes past an eighth: it packs.
  for (let i = 1; i < 10_000; i += 3) { p.delete(`s${i}`); m.delete(`s${i}`) }
  t.ok((p.slot('s9998') as number) < 9998, 'packed once holes passed an eighth')
  t.strictSame(search(p, world), expected(m, world))
  t.strictSame(listed(p), [...m.keys()])
  t.ok([...m.keys()].every(id => p.id(p.slot(id) as number) === id), 'every id still finds its own slot')
})

t.test('an empty or geometry-less partition answers nothing and has no extent box', async t => {
  const p = new Partition()
  t.strictSame(search(p, [-180, -90, 180, 90]), [])
  put(p, new Map(), 'a', null, '{}')
  t.strictSame(search(p, [-180, -90, 180, 90]), [])
  t.same(p.extent(), { box: null, time: null })
  t.equal(p.delete('a'), true)
  t.equal(p.delete('a'), false)
  t.strictSame([...p.live()], [])
})
