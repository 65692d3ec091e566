/**
 * The four FNV variants of nutcracker. All run in 32-bit arithmetic: the 64-bit ones keep only the
 * low 32 bits of the 64-bit constants (as nutcracker's C does, or equivalently for fnv1_64), and
 * bytes are sign-extended because nutcracker reads keys as signed `char`s.
 */

/** Low 32 bits of the 64-bit FNV offset basis 0xcbf29ce484222325. */
const BASIS_64_LOW = 0x84222325;
/** Low 32 bits of the 64-bit FNV prime 0x100000001b3. */
const PRIME_64_LOW = 0x1b3;
const BASIS_32 = 0x811c9dc5;
const PRIME_32 = 0x01000193;

/** FNV-1: multiply, then xor each sign-extended byte. */
function fnv1(basis: number, prime: number, buf: Uint8Array, start: number, end: number): number {
  let h = basis | 0;
  for (let i = start; i < end; i++) h = Math.imul(h, prime) ^ ((buf[i] << 24) >> 24);
  return h >>> 0;
}

/** FNV-1a: xor each sign-extended byte, then multiply. */
function fnv1a(basis: number, prime: number, buf: Uint8Array, start: number, end: number): number {
  let h = basis | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ ((buf[i] << 24) >> 24), prime);
  return h >>> 0;
}

/** nutcracker `fnv1_64`: the low 32 bits of 64-bit FNV-1 over buf[start, end). */
export function fnv1_64(buf: Uint8Array, start: number, end: number): number {
  return fnv1(BASIS_64_LOW, PRIME_64_LOW, buf, start, end);
}

/** nutcracker `fnv1a_64` (the default): FNV-1a in 32 bits with the truncated 64-bit constants. */
export function fnv1a_64(buf: Uint8Array, start: number, end: number): number {
  return fnv1a(BASIS_64_LOW, PRIME_64_LOW, buf, start, end);
}

/** nutcracker `fnv1_32`: 32-bit FNV-1 over buf[start, end). */
export function fnv1_32(buf: Uint8Array, start: number, end: number): number {
  return fnv1(BASIS_32, PRIME_32, buf, start, end);
}

/** nutcracker `fnv1a_32`: 32-bit FNV-1a over buf[start, end). */
export function fnv1a_32(buf: Uint8Array, start: number, end: number): number {
  return fnv1a(BASIS_32, PRIME_32, buf, start, end);
}
