/**
 * The private channel between a supervisor and its workers: on each connection to a worker's unix
 * socket the supervisor writes one command line (`snapshot`, or `reload <sha256>`) and the worker
 * answers it with one JSON document, then closes.
 */
import { writeAndClose } from "../stats/stats_server.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";
import type { ReloadOutcome } from "../reload.ts";

/** What a worker answers on its control socket. */
export interface WorkerControl {
  snapshot(): StatsSnapshot;
  /** Reloads the configuration file, refusing it unless its checksum is `checksum`. */
  reload(checksum: string): Promise<ReloadOutcome>;
}

/** Longest command line a worker reads. */
const MAX_COMMAND = 256;

/** The command line a connection sent (up to its newline), or null when it sent none. */
async function readCommand(conn: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(MAX_COMMAND);
  let n = 0;
  while (n < buf.length) {
    const got = await conn.read(buf.subarray(n));
    if (got === null) break;
    n += got;
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl >= 0) return new TextDecoder().decode(buf.subarray(0, nl));
  }
  return null;
}

async function answer(conn: Deno.Conn, control: WorkerControl): Promise<unknown> {
  const [verb, arg] = (await readCommand(conn) ?? "").split(" ");
  if (verb === "snapshot") return control.snapshot();
  if (verb === "reload" && arg !== undefined) return await control.reload(arg);
  return { error: `unknown command '${verb}'` };
}

/** Serves `control` on the unix socket at `path` (a worker's side). */
export function serveControl(path: string, control: WorkerControl): Deno.Listener {
  try {
    Deno.removeSync(path);
  } catch { /* not there */ }
  const listener = Deno.listen({ transport: "unix", path });
  const encoder = new TextEncoder();
  (async () => {
    try {
      for await (const conn of listener) {
        answer(conn, control).then(
          (reply) => writeAndClose(conn, encoder.encode(JSON.stringify(reply))),
          () => conn.close(),
        );
      }
    } catch { /* closed */ }
  })();
  return listener;
}

/** Sends one command to the worker at `path` and parses its answer; throws when it does not answer. */
async function ask<T>(path: string, command: string): Promise<T> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(new TextEncoder().encode(`${command}\n`));
    return JSON.parse(await new Response(conn.readable).text());
  } finally {
    try {
      conn.close();
    } catch { /* the stream closed it */ }
  }
}

/** A worker's snapshot (the supervisor's side). */
export function fetchSnapshot(path: string): Promise<StatsSnapshot> {
  return ask(path, "snapshot");
}

/** Has a worker reload the configuration file whose checksum the supervisor validated. */
export function askReload(path: string, checksum: string): Promise<ReloadOutcome> {
  return ask(path, `reload ${checksum}`);
}
