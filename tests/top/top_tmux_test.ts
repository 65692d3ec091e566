/**
 * deno task top end to end, against a fake admin endpoint (and once against tsproxy's own): in a real terminal (a tmux pane of 80x24)
 * for the live view, its keys and signals and what it leaves of the terminal; with --once without one.
 */
import assert from "assert";
import { freePort, type Proc, runScript, startMemcached, startTsproxy } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { needs } from "../support/needs.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const MAIN = `${ROOT}src/top/main.ts`;
const WAIT_MS = 20_000;
const BOUNDS = ["0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005"]
  .concat(["0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]);
/** The pools' rows once a second read gave them rates: a figure, not "-", under REQ/S. */
const ALPHA_WITH_RATES = /^alpha +1\/2 live +1 +[0-9]/m;

/**
 * /metrics of a proxy with pools alpha (servers 11211, and 11212 ejected) and beta (one server), its
 * counters and histograms grown by one step per request served; the `n`th answer is built from `n`.
 */
function metrics(n: number): string {
  const servers: [string, string, number][] = [
    ["alpha", "127.0.0.1:11211:1", 0],
    ["alpha", "127.0.0.1:11212:1", 1],
    ["beta", "127.0.0.1:6379:1", 0],
  ];
  const family = (name: string, type: string, lines: string[]) => [`# TYPE ${name} ${type}`, ...lines];
  const perServer = (name: string, type: string, value: (ejected: number) => number) =>
    family(name, type, servers.map(([p, s, e]) => `${name}{pool="${p}",server="${s}"} ${value(e)}`));
  // Half of each step's 10 observations at or below the `at`th bound, the rest at or below the next.
  const histogram = (name: string, labels: string, at: number) => [
    ...BOUNDS.map((le, i) =>
      `${name}_bucket{${labels},le="${le}"} ${i < at ? 0 : i === at ? 5 * n : 10 * n}`
    ),
    `${name}_sum{${labels}} ${0.001 * n}`,
    `${name}_count{${labels}} ${10 * n}`,
  ];
  return [
    ...family("tsproxy_build_info", "gauge", [
      'tsproxy_build_info{version="0.9.0",nutcracker="0.5.0",deno="2"} 1',
    ]),
    ...family("process_start_time_seconds", "gauge", [
      `process_start_time_seconds ${Date.now() / 1000 - 3725}`,
    ]),
    ...family("process_resident_memory_bytes", "gauge", ["process_resident_memory_bytes 47448064"]),
    ...family("process_cpu_seconds_total", "counter", [`process_cpu_seconds_total ${0.01 * n}`]),
    ...family("tsproxy_connections", "gauge", ["tsproxy_connections 9"]),
    ...family("tsproxy_connections_total", "counter", [`tsproxy_connections_total ${100 + n}`]),
    ...family("tsproxy_pool_client_connections", "gauge", [
      'tsproxy_pool_client_connections{pool="alpha"} 3',
      'tsproxy_pool_client_connections{pool="beta"} 2',
    ]),
    ...family("tsproxy_pool_commands_total", "counter", [
      `tsproxy_pool_commands_total{pool="alpha",command="get"} ${100 * n}`,
      `tsproxy_pool_commands_total{pool="beta",command="get"} ${7 * n}`,
    ]),
    ...family("tsproxy_pool_command_errors_total", "counter", [
      `tsproxy_pool_command_errors_total{pool="alpha",command="get"} ${n}`,
    ]),
    ...family("tsproxy_request_duration_seconds", "histogram", [
      ...histogram("tsproxy_request_duration_seconds", 'pool="alpha"', 5),
      ...histogram("tsproxy_request_duration_seconds", 'pool="beta"', 7),
    ]),
    ...perServer("tsproxy_server_ejected", "gauge", (e) => e),
    ...perServer("tsproxy_server_connections", "gauge", (e) => 1 - e),
    ...perServer("tsproxy_server_in_queue", "gauge", () => 1),
    ...perServer("tsproxy_server_out_queue", "gauge", () => 2),
    ...perServer("tsproxy_server_requests_total", "counter", (e) => e ? 50 : 60 * n),
    ...family(
      "tsproxy_server_duration_seconds",
      "histogram",
      servers.flatMap(([p, s]) =>
        histogram("tsproxy_server_duration_seconds", `pool="${p}",server="${s}"`, 4)
      ),
    ),
  ].join("\n") + "\n";
}

/** A fake admin endpoint on 127.0.0.1 (a free port unless given) serving `metrics`. */
function fakeAdmin(port = freePort()) {
  let served = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/metrics"
        ? new Response(metrics(++served), { headers: { "content-type": "text/plain; version=0.0.4" } })
        : new Response("not found", { status: 404 }),
  );
  return { port, served: () => served, close: () => server.shutdown() };
}

/**
 * A tmux server of its own (socket in a temp dir) with one 80x24 pane running `top` in a shell that, once
 * top has exited, notes the terminal modes, prints "top exited with <status>" and waits, so that the pane
 * and its screen outlive top. The shell reports the status: with remain-on-exit, tmux 3.3a now and then
 * never reports #{pane_dead_status}, the pane's process left unreaped.
 */
class Pane {
  readonly dir = Deno.makeTempDirSync({ prefix: "top_tmux_" });
  #pids: { server: number; pane: number } | undefined;

  async start(top: string): Promise<void> {
    const script = `${top}; s=$?; stty -a > '${this.dir}/stty'; echo "top exited with $s"; read line`;
    const session = ["new-session", "-d", "-x", "80", "-y", "24", "-s", "top", "-c", ROOT];
    await this.tmux(["-f", "/dev/null", ...session, "/bin/sh", "-c", script]);
    const [server, pane] = (await this.display("#{pid} #{pane_pid}")).split(" ").map(Number);
    this.#pids = { server, pane };
  }

  /** The pane's rows, trailing blanks cut. */
  async screen(): Promise<string[]> {
    return (await this.tmux(["capture-pane", "-p", "-t", "top"])).replace(/\n$/, "").split("\n");
  }

  async display(format: string): Promise<string> {
    return (await this.tmux(["display-message", "-p", "-t", "top", format])).trim();
  }

  keys(...keys: string[]): Promise<string> {
    return this.tmux(["send-keys", "-t", "top", ...keys]);
  }

  /** Polls the screen until `ok` holds, for WAIT_MS at most; the screen then. */
  async waitFor(what: string, ok: (screen: string) => boolean): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const screen = (await this.screen()).join("\n");
      if (ok(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`never saw ${what}; the screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * What top left: its exit status, and the terminal as the shell after it found it (read once the
   * shell's line is on screen, so that tmux has taken in everything top wrote before).
   */
  async afterExit(): Promise<{ status: number; alternate: string; cursor: string; stty: string }> {
    const screen = await this.waitFor("top exit", (s) => /top exited with \d+/.test(s));
    const status = Number(/top exited with (\d+)/.exec(screen)![1]);
    const [alternate, cursor] = (await this.display("#{alternate_on} #{cursor_flag}")).split(" ");
    return { status, alternate, cursor, stty: Deno.readTextFileSync(`${this.dir}/stty`) };
  }

  /** Ends the pane's processes (its process group) and the tmux server, by pid. */
  close(): void {
    if (this.#pids) {
      for (const pid of [-this.#pids.pane, this.#pids.server]) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      }
    }
    Deno.removeSync(this.dir, { recursive: true });
  }

  async tmux(args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", `${this.dir}/sock`, ...args],
      stdin: "null",
      signal: AbortSignal.timeout(WAIT_MS),
    }).output();
    const dec = new TextDecoder();
    if (!out.success) throw new Error(`tmux ${args.join(" ")}: ${dec.decode(out.stderr)}`);
    return dec.decode(out.stdout);
  }
}

/** The terminal as a shell wants it back: main screen, cursor shown, cooked mode with echo. */
function assertRestored(after: { alternate: string; cursor: string; stty: string }): void {
  assert.equal(after.alternate, "0", "still on the alternate screen");
  assert.equal(after.cursor, "1", "cursor still hidden");
  assert.match(after.stty, /(^|\s)icanon(\s|$)/, `raw mode left on:\n${after.stty}`);
  assert.match(after.stty, /(^|\s)echo(\s|$)/, `echo left off:\n${after.stty}`);
}

const deno = `'${Deno.execPath()}'`;

Deno.test(
  "deno task top shows the pools and their servers at 80x24, refreshes, and q quits leaving the terminal as it was",
  needs("tmux"),
  async () => {
    const admin = fakeAdmin();
    const pane = new Pane();
    try {
      await pane.start(`${deno} task top --admin=127.0.0.1:${admin.port}`);
      await pane.waitFor("the second refresh", (s) => ALPHA_WITH_RATES.test(s) && s.includes("beta"));
      const rows = await pane.screen();
      assert.equal(rows.length, 24);
      for (const row of rows) assert.ok(row.length <= 80, row);
      assert.match(
        rows[0],
        new RegExp(`^tsproxy 0\\.9\\.0 @ 127\\.0\\.0\\.1:${admin.port}  up 01:02:0\\d  rss 45\\.3M`),
      );
      assert.match(rows[3], /^POOL\/SERVER +STATE +EJ +REQ\/S +ERR\/S +P50 +P99 +QUEUE +CONN$/);
      assert.match(rows[4], /^alpha +1\/2 live +1 +[0-9.]+ +[0-9.]+ +500us +990us +6 +3$/);
      assert.match(rows[5], /^ {2}127\.0\.0\.1:11211:1 +live +[0-9.]+ +0 +250us +495us +3 +1$/);
      assert.match(rows[6], /^ {2}127\.0\.0\.1:11212:1 +EJECTED +0 +0 +250us +495us +3 +0$/);
      assert.match(rows[7], /^beta +1\/1 live +0 +[0-9.]+ +0 +2\.50ms +4\.95ms +3 +2$/);
      assert.match(rows[23], /^\d\d:\d\d:\d\d {2}every 1s {2}q quits$/);
      assert.ok(admin.served() >= 2);

      await pane.keys("q");
      const after = await pane.afterExit();
      assert.equal(after.status, 0);
      assertRestored(after);
    } finally {
      pane.close();
      await admin.close();
    }
  },
);

Deno.test(
  "against a real tsproxy with traffic, top shows its pool's rates and latency from its admin endpoint",
  needs("tmux", "memcached"),
  async () => {
    const started: Proc[] = [];
    const pane = new Pane();
    let traffic: Promise<void> | undefined;
    let stop = false;
    try {
      const memcached = await startMemcached();
      started.push(memcached);
      const poolPort = freePort(), adminPort = freePort();
      const yaml =
        `alpha:\n  listen: 127.0.0.1:${poolPort}\n  servers:\n   - 127.0.0.1:${memcached.port}:1\n`;
      started.push(await startTsproxy(yaml, [poolPort, adminPort], [`--admin-port=${adminPort}`]));
      const wire = await Wire.connect(poolPort);
      traffic = (async () => {
        for (let i = 0; !stop; i++) {
          await wire.send(`set k${i % 10} 0 0 1\r\nx\r\nget k${i % 10}\r\n`);
          await wire.replies(new MemcacheReplyParser(), 2);
          await new Promise((r) => setTimeout(r, 2));
        }
        wire.close();
      })();
      await pane.start(`${deno} task top --admin=127.0.0.1:${adminPort} --interval=0.3`);
      // Requests in the last interval: a rate and latencies rather than "-".
      const screen = await pane.waitFor(
        "the pool with rates and latency",
        (s) => /^alpha +1\/1 live +0 +[0-9.]+k? +[0-9.]+k? +[0-9.]+[um]?s +[0-9.]+[um]?s +\d+ +1$/m.test(s),
      );
      const rows = screen.split("\n");
      assert.match(
        rows[0],
        new RegExp(`^tsproxy \\S+ @ 127\\.0\\.0\\.1:${adminPort}  up \\d\\d:\\d\\d:\\d\\d  rss [0-9.]+M`),
      );
      assert.match(screen, /conns \d+, \d+ total {2}heap [0-9.]+[KM] {2}fds \d+/);
      assert.match(screen, new RegExp(`^  127\\.0\\.0\\.1:${memcached.port}\\S* +live +[0-9.]+k? `, "m"));
      await pane.keys("q");
      assert.equal((await pane.afterExit()).status, 0);
    } finally {
      stop = true;
      await traffic;
      pane.close();
      for (const p of started.reverse()) await p.stop();
    }
  },
);

Deno.test(
  "top says the endpoint is unreachable and keeps retrying, shows it once it answers, and Ctrl-C quits",
  needs("tmux"),
  async () => {
    const port = freePort();
    const pane = new Pane();
    let admin: ReturnType<typeof fakeAdmin> | undefined;
    try {
      await pane.start(`${deno} task top --admin=127.0.0.1:${port} --interval=0.2`);
      await pane.waitFor(
        "two failed reads",
        (s) =>
          s.includes(`cannot reach http://127.0.0.1:${port}/metrics`) &&
          /\b([2-9]|\d\d+) failed in a row/.test(s),
      );
      admin = fakeAdmin(port);
      await pane.waitFor("the pools", (s) => ALPHA_WITH_RATES.test(s) && !s.includes("cannot reach"));
      await pane.keys("C-c");
      const after = await pane.afterExit();
      assert.equal(after.status, 0);
      assertRestored(after);
    } finally {
      pane.close();
      await admin?.close();
    }
  },
);

Deno.test("SIGTERM ends top with status 143 and the terminal restored", needs("tmux"), async () => {
  const admin = fakeAdmin();
  const pane = new Pane();
  try {
    // A shell of its own execs top, so that the pid it writes is top's.
    const run = `exec ${deno} run --allow-net '${MAIN}' --admin=127.0.0.1:${admin.port} --interval=0.2`;
    await pane.start(`sh -c 'echo $$ > "${pane.dir}/pid"; ${run.replaceAll("'", '"')}'`);
    await pane.waitFor("the pools", (s) => ALPHA_WITH_RATES.test(s));
    Deno.kill(Number(Deno.readTextFileSync(`${pane.dir}/pid`)), "SIGTERM");
    const after = await pane.afterExit();
    assert.equal(after.status, 143);
    assertRestored(after);
  } finally {
    pane.close();
    await admin.close();
  }
});

Deno.test("--once prints one frame with rates from two reads, plain text for a pipe", async () => {
  const admin = fakeAdmin();
  try {
    const ran = await runScript(MAIN, [`--admin=127.0.0.1:${admin.port}`, "--once", "--interval=0.2"], {
      timeoutMs: WAIT_MS,
    });
    assert.equal(ran.code, 0, ran.stderr);
    const rows = ran.stdout.replace(/\n$/, "").split("\n");
    assert.match(ran.stdout, ALPHA_WITH_RATES);
    assert.ok(rows.some((r) => /^beta +1\/1 live/.test(r)), ran.stdout);
    assert.ok(!ran.stdout.includes("\x1b"), "escape sequences in the output");
    for (const row of rows) assert.ok(row.length <= 80, row);
    assert.match(rows[rows.length - 1], /^\d\d:\d\d:\d\d {2}every 0\.2s$/);
    assert.equal(admin.served(), 2);
  } finally {
    await admin.close();
  }
});

Deno.test("--once exits 1 naming the endpoint it cannot reach", async () => {
  const port = freePort();
  const ran = await runScript(MAIN, [`--admin=127.0.0.1:${port}`, "--once"], { timeoutMs: WAIT_MS });
  assert.equal(ran.code, 1);
  assert.match(ran.stderr, new RegExp(`^top: cannot reach http://127\\.0\\.0\\.1:${port}/metrics: `));
});

Deno.test("without a terminal on stdout top refuses to run live and points at --once; -h prints the usage", async () => {
  const ran = await runScript(MAIN, [], { timeoutMs: WAIT_MS });
  assert.equal(ran.code, 2);
  assert.equal(ran.stderr, "top: stdout is not a terminal; --once prints one frame\n");
  const help = await runScript(MAIN, ["-h"], { timeoutMs: WAIT_MS });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task top \[--admin=HOST:PORT\]/);
  const bad = await runScript(MAIN, ["--interval=0"], { timeoutMs: WAIT_MS });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^top: --interval wants seconds/);
});
