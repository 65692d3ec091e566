/** nutcracker's `jenkins`: Bob Jenkins' lookup3 `hashlittle` with initval 13. */

/** Little-endian 32-bit word at buf[i, i + 4); the caller guarantees the 4 bytes are in range. */
function word(buf: Uint8Array, i: number): number {
  return buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * jenkins over buf[start, end). The last 1..12 bytes (12 when the length is a multiple of 12) are
 * zero-padded to three words and go through the final mix; an empty key returns the seed itself.
 */
export function jenkins(buf: Uint8Array, start: number, end: number): number {
  const n = end - start;
  let a = (0xdeadbeef + n + 13) | 0;
  let b = a;
  let c = a;
  if (n <= 0) return c >>> 0;
  let i = start;
  for (; end - i > 12; i += 12) {
    a = (a + word(buf, i)) | 0;
    b = (b + word(buf, i + 4)) | 0;
    c = (c + word(buf, i + 8)) | 0;
    a = (a - c) | 0;
    a ^= rotl(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rotl(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rotl(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rotl(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rotl(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rotl(b, 4);
    b = (b + a) | 0;
  }
  // Tail: bytes beyond `end` count as zeros (never read).
  let w0 = 0, w1 = 0, w2 = 0;
  for (let k = 0; i + k < end; k++) {
    const v = buf[i + k] << ((k & 3) << 3);
    if (k < 4) w0 |= v;
    else if (k < 8) w1 |= v;
    else w2 |= v;
  }
  a = (a + w0) | 0;
  b = (b + w1) | 0;
  c = (c + w2) | 0;
  c ^= b;
  c = (c - rotl(b, 14)) | 0;
  a ^= c;
  a = (a - rotl(c, 11)) | 0;
  b ^= a;
  b = (b - rotl(a, 25)) | 0;
  c ^= b;
  c = (c - rotl(b, 16)) | 0;
  a ^= c;
  a = (a - rotl(c, 4)) | 0;
  b ^= a;
  b = (b - rotl(a, 14)) | 0;
  c ^= b;
  c = (c - rotl(b, 24)) | 0;
  return c >>> 0;
}
