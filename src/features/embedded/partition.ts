// Owns one org's features of one collection: served JSON per slot, boxes and times in typed arrays, and a
// static packed R-tree (flatbush) with a small dynamic overlay (rbush) for the writes since it was built.
import Flatbush from 'flatbush'
import RBush from 'rbush'
import type { Bbox } from '../store.js'

// Slot flags. A slot is a feature's place in the partition's order (first insertion); it never moves between
// rebuilds, and a rebuild keeps the relative order, so paging stays stable and deterministic.
const ALIVE = 1
const GEOMETRY = 2
/** The slot's current box is the one the static index holds; otherwise (with GEOMETRY) the overlay holds it. */
const STATIC = 4

interface OverlayItem { minX: number, minY: number, maxX: number, maxY: number, slot: number }

/** Writes the overlay may absorb before the static index is rebuilt: a small share of the partition. */
const rebuildAfter = (size: number): number => Math.max(1024, size >>> 3)

export class Partition {
  #size = 0
  #ids: Array<string | undefined> = []
  #json: Array<string | undefined> = []
  #boxes = new Float64Array(4 * 8)
  /** ms since epoch of the temporal property; NaN when there is none. */
  #times = new Float64Array(8)
  #flags = new Uint8Array(8)
  #slots = new Map<string, number>()
  #static: Flatbush | null = null
  /** flatbush item → slot (features without geometry are not in the tree). */
  #staticSlots = new Uint32Array(0)
  #overlay = new RBush<OverlayItem>()
  readonly #overlaid = new Map<number, OverlayItem>()
  /** Deleted slots and overlay entries since the last rebuild. */
  #churn = 0
  /** False until the static index covers every slot: bulk loads and journal replay only fill the arrays. */
  #indexed = false
  #extent: { box: Bbox | null, time: [number, number] | null } | undefined

  get count (): number { return this.#slots.size }
  slot (id: string): number | undefined { return this.#slots.get(id) }
  id (slot: number): string { return this.#ids[slot] as string }
  json (slot: number): string { return this.#json[slot] as string }
  time (slot: number): number | null { const t = this.#times[slot] as number; return Number.isNaN(t) ? null : t }
  box (slot: number): Bbox | null {
    if (((this.#flags[slot] as number) & GEOMETRY) === 0) return null
    const b = this.#boxes
    return [b[slot * 4] as number, b[slot * 4 + 1] as number, b[slot * 4 + 2] as number, b[slot * 4 + 3] as number]
  }

  /**
   * Adds or replaces a feature; a replaced feature keeps its slot (its place in the order).
   * `time` is NaN when there is none, `minX` NaN when there is no geometry: plain numbers, so a bulk load allocates nothing.
   */
  put (id: string, json: string, time: number, minX: number, minY: number, maxX: number, maxY: number): number {
    const hasBox = !Number.isNaN(minX)
    let slot = this.#slots.get(id)
    let flags = 0
    if (slot === undefined) {
      slot = this.#append()
      this.#slots.set(id, slot)
      this.#ids[slot] = id
    } else if (this.#indexed) {
      flags = (this.#flags[slot] as number) & STATIC
      // A property-only update keeps its static entry; a moved one goes to the overlay.
      if (flags !== 0 && !(hasBox && this.#sameBox(slot, minX, minY, maxX, maxY))) flags = 0
      this.#unoverlay(slot)
    }
    this.#fill(slot, json, time, minX, minY, maxX, maxY, flags)
    return slot
  }

  /**
   * Bulk load of a snapshot line: a new feature at the end, with one hash operation where `put` needs two.
   * A snapshot never repeats an id, so a repeat is damage.
   */
  load (id: string, json: string, time: number, minX: number, minY: number, maxX: number, maxY: number): void {
    const size = this.#slots.size
    const slot = this.#append()
    this.#slots.set(id, slot)
    if (this.#slots.size === size) throw new Error(`id ${id} appears twice`)
    this.#ids[slot] = id
    this.#fill(slot, json, time, minX, minY, maxX, maxY, 0)
  }

  /** Writes a slot's data; `staticFlag` keeps a still-valid static index entry, otherwise a box goes to the overlay. */
  #fill (slot: number, json: string, time: number, minX: number, minY: number, maxX: number, maxY: number, staticFlag: number): void {
    const hasBox = !Number.isNaN(minX)
    this.#json[slot] = json
    this.#times[slot] = time
    const b = this.#boxes
    b[slot * 4] = minX
    b[slot * 4 + 1] = minY
    b[slot * 4 + 2] = maxX
    b[slot * 4 + 3] = maxY
    this.#flags[slot] = staticFlag | ALIVE | (hasBox ? GEOMETRY : 0)
    this.#extent = undefined
    if (this.#indexed && hasBox && staticFlag === 0) this.#addOverlay(slot, minX, minY, maxX, maxY)
  }

  delete (id: string): boolean {
    const slot = this.#slots.get(id)
    if (slot === undefined) return false
    this.#slots.delete(id)
    this.#unoverlay(slot)
    this.#flags[slot] = 0
    this.#ids[slot] = undefined
    this.#json[slot] = undefined
    this.#extent = undefined
    if (this.#indexed && ++this.#churn > rebuildAfter(this.#slots.size)) this.#rebuild()
    return true
  }

  /** Every live slot, in order. */
  live (): Uint32Array {
    const out = new Uint32Array(this.#slots.size)
    let n = 0
    for (let slot = 0; slot < this.#size; slot++) if (((this.#flags[slot] as number) & ALIVE) !== 0) out[n++] = slot
    return out
  }

  /** Slots whose box intersects [minX, minY, maxX, maxY] (unordered), appended to `out`. */
  search (minX: number, minY: number, maxX: number, maxY: number, out: number[]): void {
    if (!this.#indexed) this.#rebuild()
    const flags = this.#flags
    if (this.#static !== null) {
      const slots = this.#staticSlots
      for (const i of this.#static.search(minX, minY, maxX, maxY)) {
        const slot = slots[i] as number
        if (((flags[slot] as number) & STATIC) !== 0) out.push(slot)
      }
    }
    if (this.#overlaid.size > 0) for (const item of this.#overlay.search({ minX, minY, maxX, maxY })) out.push(item.slot)
  }

  /** Union of live boxes and span of live times; cached until the next write. */
  extent (): { box: Bbox | null, time: [number, number] | null } {
    if (this.#extent !== undefined) return this.#extent
    const b = this.#boxes
    let [x0, y0, x1, y1, t0, t1] = [Infinity, Infinity, -Infinity, -Infinity, Infinity, -Infinity]
    for (const slot of this.live()) {
      const t = this.#times[slot] as number
      if (t < t0) t0 = t
      if (t > t1) t1 = t
      if (((this.#flags[slot] as number) & GEOMETRY) === 0) continue
      const i = slot * 4
      if ((b[i] as number) < x0) x0 = b[i] as number
      if ((b[i + 1] as number) < y0) y0 = b[i + 1] as number
      if ((b[i + 2] as number) > x1) x1 = b[i + 2] as number
      if ((b[i + 3] as number) > y1) y1 = b[i + 3] as number
    }
    this.#extent = { box: x0 === Infinity ? null : [x0, y0, x1, y1], time: t0 === Infinity ? null : [t0, t1] }
    return this.#extent
  }

  /** Builds the static index now (at load), so the first query does not pay for it. */
  seal (): void { if (!this.#indexed) this.#rebuild() }

  #sameBox (slot: number, minX: number, minY: number, maxX: number, maxY: number): boolean {
    const b = this.#boxes
    const i = slot * 4
    return b[i] === minX && b[i + 1] === minY && b[i + 2] === maxX && b[i + 3] === maxY
  }

  #append (): number {
    if (this.#size === this.#flags.length) this.#resize(this.#size * 2)
    return this.#size++
  }

  #resize (capacity: number): void {
    const grow = <T extends Float64Array | Uint8Array>(from: T, to: T): T => { to.set(from.subarray(0, Math.min(from.length, to.length))); return to }
    this.#boxes = grow(this.#boxes, new Float64Array(capacity * 4))
    this.#times = grow(this.#times, new Float64Array(capacity))
    this.#flags = grow(this.#flags, new Uint8Array(capacity))
  }

  #addOverlay (slot: number, minX: number, minY: number, maxX: number, maxY: number): void {
    const item = { minX, minY, maxX, maxY, slot }
    this.#overlay.insert(item)
    this.#overlaid.set(slot, item)
    if (++this.#churn > rebuildAfter(this.#slots.size)) this.#rebuild()
  }

  #unoverlay (slot: number): void {
    const item = this.#overlaid.get(slot)
    if (item === undefined) return
    this.#overlay.remove(item)
    this.#overlaid.delete(slot)
  }

  /**
   * Builds a fresh static index over the live slots, first packing them (keeping the order) if holes are many.
   * O(n log n): it runs once at load, then only after `rebuildAfter` writes, so its cost is spread thin.
   */
  #rebuild (): void {
    // Packing moves (and re-keys) every slot after the first hole: a million at start-up for a few deletes in the
    // journal. Holes cost ~60 B each and the static index skips them, so they are packed once they are an eighth.
    if (this.#size - this.#slots.size > this.#size >>> 3) this.#pack()
    // Trim the doubling slack of a bulk load.
    const capacity = Math.max(this.#size, 8)
    if (this.#flags.length > capacity) this.#resize(capacity)
    const [boxes, flags, size] = [this.#boxes, this.#flags, this.#size]
    let withGeometry = 0
    // A hole's flags are 0: it has no GEOMETRY, so it is not indexed.
    for (let slot = 0; slot < size; slot++) if (((flags[slot] as number) & GEOMETRY) !== 0) withGeometry++
    const tree = withGeometry === 0 ? null : new Flatbush(withGeometry)
    const staticSlots = new Uint32Array(withGeometry)
    for (let slot = 0; slot < size; slot++) {
      if (((flags[slot] as number) & GEOMETRY) === 0) continue
      const i = slot * 4
      staticSlots[(tree as Flatbush).add(boxes[i] as number, boxes[i + 1] as number, boxes[i + 2] as number, boxes[i + 3] as number)] = slot
      flags[slot] = (flags[slot] as number) | STATIC
    }
    tree?.finish()
    this.#static = tree
    this.#staticSlots = staticSlots
    this.#overlay = new RBush<OverlayItem>()
    this.#overlaid.clear()
    this.#churn = 0
    this.#indexed = true
  }

  /** Drops deleted slots, keeping the order: every live feature moves down to its rank. */
  #pack (): void {
    const [ids, json, boxes, times, flags] = [this.#ids, this.#json, this.#boxes, this.#times, this.#flags]
    let next = 0
    for (let slot = 0; slot < this.#size; slot++) {
      if (((flags[slot] as number) & ALIVE) === 0) continue
      ids[next] = ids[slot]
      json[next] = json[slot]
      boxes.copyWithin(next * 4, slot * 4, slot * 4 + 4)
      times[next] = times[slot] as number
      flags[next] = flags[slot] as number
      if (next !== slot) this.#slots.set(ids[next] as string, next)
      next++
    }
    ids.length = json.length = this.#size = next
    flags.fill(0, next)
  }
}
