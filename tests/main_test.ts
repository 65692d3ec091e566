import assert from "assert";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import {
  freePort,
  type Ran,
  readStats,
  runScript,
  spawn,
  startMemcached,
  startTsproxy,
  waitForPort,
} from "../harness/procs.ts";
import { Wire } from "../harness/wire.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** Runs src/main.ts to completion with a time bound. */
function run(args: string[], cwd = ROOT): Promise<Ran> {
  return runScript(MAIN, args, { cwd, timeoutMs: 20000 });
}

function tempConf(yaml: string): string {
  const f = Deno.makeTempFileSync({ suffix: ".yml" });
  Deno.writeTextFileSync(f, yaml);
  return f;
}

Deno.test("-t accepts the shipped nutcracker.yml with nutcracker's line on stderr, nothing on stdout", async () => {
  const r = await run(["-t", "-c", "conf/nutcracker.yml"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "nutcracker: configuration file 'conf/nutcracker.yml' syntax is ok\n");
});

Deno.test("-t on a bad file names pool, key and value, then the invalid line, exit 1", async () => {
  const f = tempConf("alpha:\n  listen: 127.0.0.1:1\n  hash: nope\n  servers:\n   - 127.0.0.1:2:1\n");
  try {
    const r = await run(["-t", "-c", f]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^conf: directive "hash" is not a valid hash .*alpha.*nope/);
    assert.equal(lines[1], `nutcracker: configuration file '${f}' syntax is invalid`);
  } finally {
    Deno.removeSync(f);
  }
});

Deno.test("-V prints nutcracker's version block; a bad flag prints the complaint and usage, exit 1", async () => {
  const v = await run(["-V"]);
  assert.equal(v.code, 0);
  assert.equal(v.stderr, "This is nutcracker-0.5.0\nasync event backend: epoll\n\n");
  const bad = await run(["-m", "100"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^nutcracker: mbuf chunk size must be between 512 and 16777216 bytes\n/);
});

Deno.test("an invalid config at startup logs the reason and exits 1 without binding", async () => {
  const port = freePort();
  const f = tempConf(
    `alpha:\n  listen: 127.0.0.1:${port}\n  server_connections: 0\n  servers:\n   - 127.0.0.1:2:1\n`,
  );
  try {
    const r = await run(["-c", f, "-s", String(freePort())]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /conf: directive "server_connections:" cannot be 0/);
    assert.match(r.stderr, /syntax is invalid/);
  } finally {
    Deno.removeSync(f);
  }
});

Deno.test("a pool port already in use makes startup fail with nutcracker's bind message, exit 1", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const f = tempConf(`alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:2:1\n`);
  try {
    const r = await run(["-c", f, "-s", String(freePort())]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`bind on p to addr '127.0.0.1:${port}' failed`));
    assert.match(r.stderr, /done, rabbit done/);
  } finally {
    busy.close();
    Deno.removeSync(f);
  }
});

Deno.test("the proxy serves a pool, writes its pid file and logs to -o", async () => {
  const mc = await startMemcached();
  const port = freePort();
  const dir = Deno.makeTempDirSync();
  const proxy = await startTsproxy(
    `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:${mc.port}:1\n`,
    [port],
    ["-p", `${dir}/tsproxy.pid`, "-o", `${dir}/tsproxy.log`],
  );
  try {
    const w = await Wire.connect(port);
    await w.send("set a 0 0 1\r\nx\r\nget a\r\n");
    const { replies } = await w.replies(new MemcacheReplyParser(), 2);
    assert.deepEqual(replies.map((r) => new TextDecoder().decode(r)), [
      "STORED\r\n",
      "VALUE a 0 1\r\nx\r\nEND\r\n",
    ]);
    w.close();
    assert.equal(Deno.readTextFileSync(`${dir}/tsproxy.pid`), String(proxy.pid));
    assert.match(Deno.readTextFileSync(`${dir}/tsproxy.log`), /started on pid/);
    const stats = await readStats(proxy.statsPort);
    assert.equal(stats.service, "nutcracker");
    assert.ok("alpha" in stats);
  } finally {
    await proxy.stop();
    await mc.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("SIGINT stops the proxy with exit status 1, as nutcracker", async () => {
  const port = freePort();
  const f = tempConf(`alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:2:1\n`);
  const p = spawn(Deno.execPath(), ["run", "-A", MAIN, "-c", f, "-s", String(freePort())]);
  try {
    await waitForPort(port, 15000);
    p.child.kill("SIGINT");
    const status = await p.child.status;
    assert.equal(status.code, 1);
    assert.match(p.stderr(), /signal 2 \(SIGINT\) received, exiting/);
  } finally {
    await p.stop();
    Deno.removeSync(f);
  }
});

Deno.test("an admin port given on the command line that is taken stops the start, exit 1, pools never bound", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const adminPort = (busy.addr as Deno.NetAddr).port;
  const port = freePort();
  const f = tempConf(`alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:2:1\n`);
  try {
    const r = await run(["-c", f, "-s", String(freePort()), `--admin-port=${adminPort}`]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`bind on admin addr '127.0.0.1:${adminPort}' failed: Address (already )?in use`),
    );
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }), "the pool was never bound");
  } finally {
    busy.close();
    Deno.removeSync(f);
  }
});

Deno.test("the default admin port, when taken, is skipped with a warning and the proxy serves on", async () => {
  let holder: Deno.Listener | null = null;
  try {
    holder = Deno.listen({ hostname: "127.0.0.1", port: 22223 });
  } catch { /* something else holds it already: just as good */ }
  const port = freePort();
  const f = tempConf(`alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:2:1\n`);
  const p = spawn(Deno.execPath(), ["run", "-A", MAIN, "-c", f, "-s", String(freePort())]);
  try {
    await waitForPort(port, 15000);
    assert.match(
      p.stderr(),
      /bind on admin addr '127\.0\.0\.1:22223' failed: .*; the admin endpoint is off \(set --admin-port\)/,
    );
  } finally {
    await p.stop();
    holder?.close();
    Deno.removeSync(f);
  }
});
