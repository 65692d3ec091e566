/** Whether a replica may serve reads: asked over a short-lived connection, `INFO replication`. */
import { RespConnection } from "./resp_client.ts";

/** in-sync: a replica with its master link up; out-of-sync: anything else that answered. */
export type ReplicaHealth = "in-sync" | "out-of-sync" | "unreachable";

/**
 * Connects (AUTH first when `auth` is given) and reads `INFO replication`. Unreachable: no
 * connection, no reply within `timeoutMs` (for the connect and for each reply), or an error reply
 * (a wrong password or a server that refuses INFO cannot be read from either).
 */
export async function checkReplica(
  host: string,
  port: number,
  auth: string | null,
  timeoutMs: number,
): Promise<ReplicaHealth> {
  let conn: RespConnection;
  try {
    conn = await RespConnection.open(host, port, timeoutMs);
  } catch {
    return "unreachable";
  }
  try {
    // AUTH and INFO pipelined: one round trip.
    const [authed, info] = await Promise.all([
      auth === null ? "OK" : conn.command("AUTH", auth),
      conn.command("INFO", "replication"),
    ]);
    if (authed !== "OK" || typeof info !== "string") return "unreachable";
    const fields = infoFields(info);
    return fields.get("role") === "slave" && fields.get("master_link_status") === "up"
      ? "in-sync"
      : "out-of-sync";
  } catch {
    return "unreachable";
  } finally {
    conn.close();
    await conn.closed;
  }
}

/** The `key:value` lines of an INFO reply (section headers and blank lines left out). */
export function infoFields(info: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of info.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}
