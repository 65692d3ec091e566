/**
 * MD5 (RFC 1321) over byte ranges: nutcracker's `md5` key hash and the digest ketama turns into
 * continuum points. Not reentrant by design: it works in module-level scratch space so that hashing
 * a key allocates nothing.
 */

/** Per-step additive constants, floor(abs(sin(i + 1)) * 2^32). */
const K = new Int32Array([
  0xd76aa478,
  0xe8c7b756,
  0x242070db,
  0xc1bdceee,
  0xf57c0faf,
  0x4787c62a,
  0xa8304613,
  0xfd469501,
  0x698098d8,
  0x8b44f7af,
  0xffff5bb1,
  0x895cd7be,
  0x6b901122,
  0xfd987193,
  0xa679438e,
  0x49b40821,
  0xf61e2562,
  0xc040b340,
  0x265e5a51,
  0xe9b6c7aa,
  0xd62f105d,
  0x02441453,
  0xd8a1e681,
  0xe7d3fbc8,
  0x21e1cde6,
  0xc33707d6,
  0xf4d50d87,
  0x455a14ed,
  0xa9e3e905,
  0xfcefa3f8,
  0x676f02d9,
  0x8d2a4c8a,
  0xfffa3942,
  0x8771f681,
  0x6d9d6122,
  0xfde5380c,
  0xa4beea44,
  0x4bdecfa9,
  0xf6bb4b60,
  0xbebfbc70,
  0x289b7ec6,
  0xeaa127fa,
  0xd4ef3085,
  0x04881d05,
  0xd9d4d039,
  0xe6db99e5,
  0x1fa27cf8,
  0xc4ac5665,
  0xf4292244,
  0x432aff97,
  0xab9423a7,
  0xfc93a039,
  0x655b59c3,
  0x8f0ccc92,
  0xffeff47d,
  0x85845dd1,
  0x6fa87e4f,
  0xfe2ce6e0,
  0xa3014314,
  0x4e0811a1,
  0xf7537e82,
  0xbd3af235,
  0x2ad7d2bb,
  0xeb86d391,
]);

/** Per-step left-rotation amounts: four rounds, each cycling through four values. */
// deno-fmt-ignore
const S = new Uint8Array([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
]);

/** Chaining state A, B, C, D; after a digest it holds the result as four little-endian words. */
const state = new Int32Array(4);
/** The 16 message words of the block being compressed. */
const words = new Int32Array(16);
/** Last partial block plus padding and bit length: one or two blocks. */
const tail = new Uint8Array(128);

/** Compresses the 64-byte block src[off, off + 64) into `state`. */
function compress(src: Uint8Array, off: number): void {
  for (let j = 0; j < 16; j++, off += 4) {
    words[j] = src[off] | (src[off + 1] << 8) | (src[off + 2] << 16) | (src[off + 3] << 24);
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  for (let i = 0; i < 64; i++) {
    let f: number, g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const x = (a + f + K[i] + words[g]) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((x << S[i]) | (x >>> (32 - S[i])))) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
}

/** Runs MD5 over buf[start, end), leaving the digest in `state`. */
function digestInto(buf: Uint8Array, start: number, end: number): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89;
  state[2] = 0x98badcfe;
  state[3] = 0x10325476;
  let p = start;
  for (; end - p >= 64; p += 64) compress(buf, p);
  const rest = end - p;
  tail.fill(0);
  for (let k = 0; k < rest; k++) tail[k] = buf[p + k];
  tail[rest] = 0x80;
  const blocks = rest < 56 ? 1 : 2;
  const n = end - start;
  const lenAt = blocks * 64 - 8;
  // Message length in bits, 64-bit little-endian, written as two 32-bit halves.
  const low = (n << 3) >>> 0;
  const high = Math.floor(n / 0x20000000);
  for (let k = 0; k < 4; k++) {
    tail[lenAt + k] = (low >>> (8 * k)) & 0xff;
    tail[lenAt + 4 + k] = (high >>> (8 * k)) & 0xff;
  }
  compress(tail, 0);
  if (blocks === 2) compress(tail, 64);
}

/** nutcracker `md5` key hash: the first 4 digest bytes of buf[start, end) read little-endian. */
export function md5(buf: Uint8Array, start: number, end: number): number {
  digestInto(buf, start, end);
  return state[0] >>> 0;
}

/**
 * The MD5 digest of buf[start, end) as four words (digest bytes 4a..4a+3 little-endian in word a),
 * written into `out`, which is returned. Ketama's four points per name are exactly these words.
 */
export function md5Words(buf: Uint8Array, start: number, end: number, out: Uint32Array): Uint32Array {
  digestInto(buf, start, end);
  for (let a = 0; a < 4; a++) out[a] = state[a];
  return out;
}

/** The 16-byte MD5 digest of buf[start, end). */
export function md5Digest(buf: Uint8Array, start: number, end: number): Uint8Array {
  digestInto(buf, start, end);
  const out = new Uint8Array(16);
  for (let k = 0; k < 16; k++) out[k] = state[k >> 2] >>> ((k & 3) << 3);
  return out;
}
