/** The stats port: every connection gets one JSON document and a newline, then is closed. */
import { errorMessage } from "../core/errors.ts";
import type { Pool } from "../core/pool.ts";
import { statsJson } from "./stats_json.ts";

/** Serves stats on addr:port; throws nutcracker's bind message when the port is taken. */
export function serveStats(addr: string, port: number, pools: readonly Pool[]): Deno.Listener {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: addr, port });
  } catch (err) {
    throw new Error(
      `bind on m to stats server addr '${addr}:${port}' failed: ${errorMessage(err)}`,
    );
  }
  const started = Date.now();
  const source = Deno.hostname();
  const encoder = new TextEncoder();
  (async () => {
    try {
      for await (const conn of listener) {
        const now = Date.now();
        const doc = statsJson(
          { source, uptime: Math.floor((now - started) / 1000), timestamp: Math.floor(now / 1000) },
          pools,
        );
        writeAndClose(conn, encoder.encode(doc));
      }
    } catch { /* listener closed */ }
  })();
  return listener;
}

async function writeAndClose(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  } catch { /* the reader went away */ }
  try {
    conn.close();
  } catch { /* already closed */ }
}
