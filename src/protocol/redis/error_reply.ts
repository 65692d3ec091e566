/** redis error replies written by the proxy itself. */

const encoder = new TextEncoder();

/** `-ERR <reason>\r\n`: nutcracker's form for every error it generates for a redis client. */
export function errReply(reason: string): Uint8Array {
  return encoder.encode(`-ERR ${reason}\r\n`);
}
