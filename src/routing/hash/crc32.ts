/** nutcracker's `crc32` (libmemcached's 15-bit variant) and `crc32a` (the plain CRC-32). */

/**
 * CRC-32 table (IEEE, reflected poly 0xEDB88320), built on first use: a hot loop at startup wakes
 * V8's optimizing compiler and costs an idle proxy megabytes of RSS whatever hash it is configured with.
 */
let table: Int32Array | null = null;

function buildTable(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c;
  }
  return t;
}

/** nutcracker `crc32a`: the standard CRC-32 (same value as zlib's crc32) of buf[start, end). */
export function crc32a(buf: Uint8Array, start: number, end: number): number {
  const t = table ??= buildTable();
  let c = -1;
  for (let i = start; i < end; i++) c = (c >>> 8) ^ t[(c ^ buf[i]) & 0xff];
  return ~c >>> 0;
}

/** nutcracker `crc32`: bits 16..30 of the standard CRC-32, as libmemcached does (0..32767). */
export function crc32(buf: Uint8Array, start: number, end: number): number {
  return (crc32a(buf, start, end) >>> 16) & 0x7fff;
}
