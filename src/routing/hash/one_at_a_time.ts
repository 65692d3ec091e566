/** Bob Jenkins' one-at-a-time hash, as nutcracker's `one_at_a_time`. */

/**
 * one_at_a_time over buf[start, end). Each byte is added sign-extended (`(b << 24) >> 24`), because
 * nutcracker reads keys as signed x86 `char`s; keys with bytes >= 0x80 depend on it.
 */
export function oneAtATime(buf: Uint8Array, start: number, end: number): number {
  let h = 0;
  for (let i = start; i < end; i++) {
    h = (h + ((buf[i] << 24) >> 24)) | 0;
    h = (h + (h << 10)) | 0;
    h ^= h >>> 6;
  }
  h = (h + (h << 3)) | 0;
  h ^= h >>> 11;
  h = (h + (h << 15)) | 0;
  return h >>> 0;
}
