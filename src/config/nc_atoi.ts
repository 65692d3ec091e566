/** nutcracker's number rules, shared by the configuration and the command line. */

/**
 * nutcracker's `nc_atoi`: decimal digits only (no sign, no spaces, not empty), computed in a 32-bit
 * int that silently wraps (`4294967297` is 1). Returns -1 for anything that is not a number or
 * wraps negative, like nutcracker.
 */
export function ncAtoi(text: string): number {
  if (text.length === 0) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = (Math.imul(value, 10) + digit) | 0;
  }
  return value < 0 ? -1 : value;
}

/** nutcracker's `nc_valid_port`: 1..65535. */
export function isValidPort(port: number): boolean {
  return port >= 1 && port <= 65535;
}
