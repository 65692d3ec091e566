/** What tsproxy sends first on every new redis server connection (redis_db, redis_auth). */

const encoder = new TextEncoder();

/** A RESP array of bulk strings. */
function command(...args: string[]): Uint8Array {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  return encoder.encode(text);
}

/**
 * `SELECT <db>` when db > 0, then `AUTH <password>` when a password is set: nutcracker's order,
 * which makes SELECT fail against a server with requirepass (spec redis §6).
 */
export function handshakeRequests(redisDb: number, redisAuth: string | null): Uint8Array[] {
  const requests: Uint8Array[] = [];
  if (redisDb > 0) requests.push(command("SELECT", String(redisDb)));
  if (redisAuth !== null) requests.push(command("AUTH", redisAuth));
  return requests;
}
