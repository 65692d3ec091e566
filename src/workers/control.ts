/**
 * The private channel between a supervisor and its workers: each worker answers every connection on
 * its unix socket with a JSON snapshot of its counters.
 */
import { writeAndClose } from "../stats/stats_server.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";

/** Serves `snapshot()` on the unix socket at `path` (a worker's side). */
export function serveSnapshots(path: string, snapshot: () => StatsSnapshot): Deno.Listener {
  try {
    Deno.removeSync(path);
  } catch { /* not there */ }
  const listener = Deno.listen({ transport: "unix", path });
  const encoder = new TextEncoder();
  (async () => {
    try {
      for await (const conn of listener) writeAndClose(conn, encoder.encode(JSON.stringify(snapshot())));
    } catch { /* closed */ }
  })();
  return listener;
}

/** A worker's snapshot (the supervisor's side); throws when the worker does not answer. */
export async function fetchSnapshot(path: string): Promise<StatsSnapshot> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    return JSON.parse(await new Response(conn.readable).text());
  } finally {
    try {
      conn.close();
    } catch { /* the stream closed it */ }
  }
}
