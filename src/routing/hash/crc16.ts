/** nutcracker's `crc16`: CRC-16/XMODEM steps kept in a 32-bit register that is never masked. */

/** CRC-16/XMODEM table (poly 0x1021, MSB first), built on first use (see crc32.ts). */
let table: Uint16Array | null = null;

function buildTable(): Uint16Array {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[n] = c;
  }
  return t;
}

/**
 * crc16 over buf[start, end). The register is 32 bits wide and never cut to 16, so the bytes
 * shifted out above bit 15 stay in the result: only its low 16 bits are the real CRC.
 */
export function crc16(buf: Uint8Array, start: number, end: number): number {
  const t = table ??= buildTable();
  let c = 0;
  for (let i = start; i < end; i++) c = (c << 8) ^ t[((c >>> 8) ^ buf[i]) & 0xff];
  return c >>> 0;
}
