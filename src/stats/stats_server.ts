/** The stats port: every connection gets one JSON document and a newline, then is closed. */
import { errorMessage } from "../core/errors.ts";
import { Level, logEvent } from "../log.ts";
import type { StatsSnapshot } from "./snapshot.ts";
import { currentHeader, statsJson } from "./stats_json.ts";

/**
 * Serves stats on addr:port from `snapshot` (this process's counters, or all workers' summed);
 * throws nutcracker's bind message when the port is taken.
 */
export function serveStats(
  addr: string,
  port: number,
  snapshot: () => Promise<StatsSnapshot>,
): Deno.Listener {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: addr, port });
  } catch (err) {
    throw new Error(`bind on m to stats server addr '${addr}:${port}' failed: ${errorMessage(err)}`);
  }
  const encoder = new TextEncoder();
  (async () => {
    try {
      let served = 0;
      for await (const conn of listener) {
        const sd = ++served; // the stats connection's number in log lines
        Promise.resolve().then(snapshot).then((snap) => {
          return writeAndClose(
            conn,
            encoder.encode(statsJson(currentHeader(), snap)),
            (err) =>
              logEvent(Level.ERR, "stats", "send", `send stats on sd ${sd} failed: ${errorMessage(err)}`),
          );
        }, () => conn.close());
      }
    } catch { /* listener closed */ }
  })();
  return listener;
}

/** Writes all of `bytes` and closes; a reader that went away is reported to `onError` (default: ignored). */
export async function writeAndClose(
  conn: Deno.Conn,
  bytes: Uint8Array,
  onError: (err: unknown) => void = () => {},
): Promise<void> {
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  } catch (err) {
    onError(err);
  }
  try {
    conn.close();
  } catch { /* already closed */ }
}
