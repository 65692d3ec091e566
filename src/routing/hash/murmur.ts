/** nutcracker's `murmur`: MurmurHash2 with a length-dependent seed. */

const M = 0x5bd1e995;

/** murmur over buf[start, end): seed `0xdeadbeef * length`, 4-byte blocks read little-endian. */
export function murmur(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  let h = Math.imul(0xdeadbeef, n) ^ n;
  let i = start;
  for (const blocksEnd = start + (n & ~3); i < blocksEnd; i += 4) {
    let w = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    w = Math.imul(w, M);
    w ^= w >>> 24;
    w = Math.imul(w, M);
    h = Math.imul(h, M) ^ w;
  }
  switch (n & 3) {
    case 3:
      h ^= buf[i + 2] << 16;
      // falls through
    case 2:
      h ^= buf[i + 1] << 8;
      // falls through
    case 1:
      h ^= buf[i];
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}
