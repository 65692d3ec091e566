/** What tsproxy sends first on every new redis server connection (redis_db, redis_auth). */
import type { HandshakeRequest } from "../types.ts";
import { command } from "./resp.ts";

/**
 * `SELECT <db>` when db > 0, then `AUTH <password>` when a password is set: nutcracker's order,
 * which makes SELECT fail against a server with requirepass (nutcracker 0.5.0 logs `SELECT 1
 * failed on <pool> | <server>: NOAUTH Authentication required.` and goes on).
 */
export function handshakeRequests(redisDb: number, redisAuth: string | null): HandshakeRequest[] {
  const requests: HandshakeRequest[] = [];
  if (redisDb > 0) requests.push({ bytes: command("SELECT", String(redisDb)), what: `SELECT ${redisDb}` });
  if (redisAuth !== null) requests.push({ bytes: command("AUTH", redisAuth), what: "AUTH" });
  return requests;
}
