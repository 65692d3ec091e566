/** Opens a connection to a backend server, resolving its host name on every attempt as nutcracker does. */
import type { ServerConfig } from "../config/types.ts";
import { HostDownError } from "./errors.ts";
import { isAddress, lookupAll } from "./resolve.ts";

/** Connects to the server (TCP with TCP_NODELAY, or a unix socket). */
export async function connectServer(server: ServerConfig): Promise<Deno.Conn> {
  if (server.kind === "unix") return await Deno.connect({ transport: "unix", path: server.path });
  let hostname = server.host;
  if (!isAddress(hostname)) {
    try {
      hostname = (await lookupAll(hostname))[0].address;
    } catch {
      throw new HostDownError(server.host);
    }
  }
  const conn = await Deno.connect({ hostname, port: server.port });
  conn.setNoDelay(true);
  return conn;
}
