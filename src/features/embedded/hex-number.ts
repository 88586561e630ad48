// Owns the snapshot's number codec: a float64 as the 16 hex digits of its IEEE 754 bits, exact both ways, and read
// straight from a buffer with no decimal parsing and no string.

/** Byte → hex digit value, or -1. */
const DIGIT = new Int8Array(256).fill(-1)
Buffer.from('0123456789abcdef').forEach((c, i) => { DIGIT[c] = i })

const bits = new DataView(new ArrayBuffer(8))

/** `value` as 16 lowercase hex digits (NaN included: it marks "none"). */
export function hexNumber (value: number): string {
  bits.setFloat64(0, value)
  return bits.getUint32(0).toString(16).padStart(8, '0') + bits.getUint32(4).toString(16).padStart(8, '0')
}

/** The number whose 16 hex digits start at `at` in `buf`; throws on a non-hex byte. */
export function readHexNumber (buf: Buffer, at: number): number {
  for (let word = 0; word < 2; word++) {
    let v = 0
    for (let i = at + word * 8; i < at + word * 8 + 8; i++) {
      const d = DIGIT[buf[i] as number] as number
      if (d < 0) throw new Error('bad number')
      v = v * 16 + d
    }
    bits.setUint32(word * 4, v)
  }
  return bits.getFloat64(0)
}

/** Characters of one encoded number. */
export const HEX_NUMBER_LENGTH = 16
