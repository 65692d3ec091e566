/** A pool's listening socket (TCP or unix), accepting clients into client connections. */
import type { ListenConfig } from "../config/types.ts";
import { Level, logEvent } from "../log.ts";
import { connectionCounts } from "../stats/counters.ts";
import { ClientConnection } from "./client_connection.ts";
import { errorMessage } from "./errors.ts";
import type { Pool } from "./pool.ts";

/** Binds the pool's listen address; throws nutcracker's bind message when it cannot. */
export function bindListener(listen: ListenConfig, reusePort: boolean): Deno.Listener {
  try {
    if (listen.kind === "unix") {
      try {
        Deno.removeSync(listen.path); // a stale socket file would make bind fail
      } catch { /* nothing there */ }
      const l = Deno.listen({ transport: "unix", path: listen.path });
      if (listen.perm !== 0) Deno.chmodSync(listen.path, listen.perm);
      return l;
    }
    return Deno.listen({ hostname: listen.address, port: listen.port, ...(reusePort ? { reusePort } : {}) });
  } catch (err) {
    throw new Error(`bind on p to addr '${listen.raw}' failed: ${errorMessage(err)}`);
  }
}

/** Client connections of all pools, against the process-wide cap. */
export const clientCount = { current: 0, max: Infinity };

/**
 * Accepts clients until the listener closes, calling `onAccept` for each one served. A client over the
 * pool's client_connections, or over the process-wide cap derived from the fd limit, is closed at once,
 * as nutcracker does with the latter.
 */
export async function acceptClients(
  listener: Deno.Listener,
  pool: Pool,
  mbufSize: number,
  onAccept: () => void = () => {},
): Promise<void> {
  connectionCounts.total++;
  connectionCounts.current++;
  const limit = pool.config.clientConnections;
  const tcp = pool.config.listen.kind === "tcp";
  for (;;) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (err) {
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) break;
      // Out of file descriptors, or a client that left before accept: try again shortly.
      logEvent(
        Level.ERR,
        "listener",
        "accept",
        `accept on p ${pool.config.name} failed: ${errorMessage(err)}`,
      );
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const poolFull = limit > 0 && pool.stats.client_connections >= limit;
    if (poolFull || clientCount.current >= clientCount.max) {
      conn.close();
      logEvent(
        Level.WARN,
        "listener",
        "refuse",
        poolFull
          ? `client refused: pool ${pool.config.name} has its client_connections (${limit})`
          : `client refused: the proxy has its ${clientCount.max} clients (the file descriptor limit)`,
      );
      continue;
    }
    if (tcp) {
      const c = conn as Deno.TcpConn;
      c.setNoDelay(true);
      if (pool.config.tcpkeepalive) c.setKeepAlive(true);
    }
    clientCount.current++;
    onAccept();
    const client: ClientConnection = new ClientConnection(conn, pool, mbufSize, () => {
      clientCount.current--;
      pool.clients.delete(client);
      if (pool.clients.size === 0) pool.onNoClients?.();
    });
    pool.clients.add(client);
    client.run();
  }
  connectionCounts.current--;
}
