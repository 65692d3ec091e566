/** nutcracker's `hsieh`: Paul Hsieh's SuperFastHash, started from 0 instead of the key length. */

/**
 * hsieh over buf[start, end). Two quirks of nutcracker's C are kept: the initial hash is 0, and in
 * a 3-byte tail the third byte is sign-extended (it is read as a signed `char`).
 */
export function hsieh(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n <= 0) return 0;
  let h = 0;
  let i = start;
  for (const blocksEnd = start + (n & ~3); i < blocksEnd; i += 4) {
    h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
    const t = ((buf[i + 2] | (buf[i + 3] << 8)) << 11) ^ h;
    h = (h << 16) ^ t;
    h = (h + (h >>> 11)) | 0;
  }
  switch (n & 3) {
    case 3:
      h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
      h ^= h << 16;
      h ^= ((buf[i + 2] << 24) >> 24) << 18;
      h = (h + (h >>> 11)) | 0;
      break;
    case 2:
      h = (h + (buf[i] | (buf[i + 1] << 8))) | 0;
      h ^= h << 11;
      h = (h + (h >>> 17)) | 0;
      break;
    case 1:
      h = (h + buf[i]) | 0;
      h ^= h << 10;
      h = (h + (h >>> 1)) | 0;
      break;
  }
  h ^= h << 3;
  h = (h + (h >>> 5)) | 0;
  h ^= h << 4;
  h = (h + (h >>> 17)) | 0;
  h ^= h << 25;
  h = (h + (h >>> 6)) | 0;
  return h >>> 0;
}
