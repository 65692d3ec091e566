/**
 * Idle clients of the bench's RSS measurement, run as its own process (loopback only):
 *
 *   deno run --allow-net=127.0.0.1 bench/idle_clients.ts --port N [--conns 1000] [--hold 3] [--redis]
 *
 * Opens the connections one after another, does one request on each (a memcache or redis GET of a
 * missing key) so that the proxy has seen traffic on every one, prints `READY n conns in x s` (or
 * `FAILED after n conns: why`), holds them idle for --hold seconds, then closes them.
 */

/** Bounded options of a run. */
export interface IdleOptions {
  port: number;
  conns: number;
  holdSecs: number;
  redis: boolean;
}

/** Parses the command line; throws when out of bounds (conns 1..5000, hold 0..30 s). */
export function parseIdleArgs(args: string[]): IdleOptions {
  const value = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const o = {
    port: Number(value("port", "0")),
    conns: Number(value("conns", "1000")),
    holdSecs: Number(value("hold", "3")),
    redis: args.includes("--redis"),
  };
  if (!(o.port > 0 && o.port < 65536)) throw new Error("--port is required");
  if (!(Number.isInteger(o.conns) && o.conns >= 1 && o.conns <= 5000)) {
    throw new Error("--conns must be 1..5000");
  }
  if (!(o.holdSecs >= 0 && o.holdSecs <= 30)) throw new Error("--hold must be 0..30 s");
  return o;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function close(c: Deno.Conn): void {
  try {
    c.close();
  } catch { /* closed already */ }
}

/** Sends `request` on `c` and reads until the reply ends with `end`, within 5 s. */
async function requestOnce(c: Deno.Conn, request: string, end: string, buf: Uint8Array): Promise<void> {
  const timer = setTimeout(() => close(c), 5000);
  try {
    await c.write(encoder.encode(request));
    let got = "";
    while (!got.endsWith(end)) {
      const n = await c.read(buf);
      if (n === null) throw new Error("closed");
      got += decoder.decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Opens the clients, does the request on each, holds them; returns the line it printed. */
export async function holdIdleClients(o: IdleOptions): Promise<string> {
  const [request, end] = o.redis
    ? ["*2\r\n$3\r\nGET\r\n$8\r\nidle:key\r\n", "$-1\r\n"]
    : ["get idle:key\r\n", "END\r\n"];
  const conns: Deno.Conn[] = [];
  const t0 = performance.now();
  const buf = new Uint8Array(4096);
  let line: string;
  try {
    for (let i = 0; i < o.conns; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: o.port });
      conns.push(c);
      await requestOnce(c, request, end, buf);
    }
    line = `READY ${conns.length} conns in ${((performance.now() - t0) / 1000).toFixed(1)}s`;
    console.log(line);
    await new Promise((r) => setTimeout(r, o.holdSecs * 1000));
  } catch (e) {
    line = `FAILED after ${conns.length} conns: ${e instanceof Error ? e.message : e}`;
    console.log(line);
  } finally {
    for (const c of conns) close(c);
  }
  return line;
}

if (import.meta.main) {
  await holdIdleClients(parseIdleArgs(Deno.args));
}
