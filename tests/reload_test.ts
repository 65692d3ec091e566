/** Reloading a running tsproxy process: its signals, POST /reload, counters, and --workers. */
import assert from "assert";
import { FakeMemcached } from "../harness/fake_memcached.ts";
import { freePort, startTsproxy } from "../harness/procs.ts";
import { Wire } from "../harness/wire.ts";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import { needsPromParser, parseExposition, valueOf } from "./support/prom_parse.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Replaces the file as an editor or a deployment tool does: a new file renamed over the old. */
function rewrite(file: string, yaml: string): void {
  Deno.writeTextFileSync(`${file}.new`, yaml);
  Deno.renameSync(`${file}.new`, file);
}

async function reload(admin: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${admin}/reload`, { method: "POST" });
  return { status: res.status, body: await res.json() };
}

async function get(port: number, key: string): Promise<string> {
  const w = await Wire.connect(port);
  try {
    await w.send(`get ${key}\r\n`);
    return text((await w.replies(new MemcacheReplyParser(), 1, 5000)).replies[0]);
  } finally {
    w.close();
  }
}

async function waitFor(what: string, cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

for (const workers of [1, 2]) {
  Deno.test({
    name: `${workers === 1 ? "one process" : "--workers=2"}: POST /reload applies a changed file, ` +
      "refuses an invalid one (422, nothing changes, a failure counted) and says so for an unchanged one",
    ...needsPromParser(),
    async fn() {
      const a = await FakeMemcached.start(), b = await FakeMemcached.start();
      a.faults.set({ mode: "reply", raw: "VALUE k 0 1\r\na\r\nEND\r\n", times: Infinity });
      b.faults.set({ mode: "reply", raw: "VALUE k 0 1\r\nb\r\nEND\r\n", times: Infinity });
      const port = freePort(), adminPort = freePort();
      const yaml = (fake: FakeMemcached) =>
        `mc:\n  listen: 127.0.0.1:${port}\n  servers:\n   - ${fake.address}:1 s\n`;
      const proxy = await startTsproxy(yaml(a), [port, adminPort], [
        `--admin-port=${adminPort}`,
        ...(workers > 1 ? [`--workers=${workers}`] : []),
      ]);
      const admin = `http://127.0.0.1:${adminPort}`;
      try {
        await waitFor("the proxy to be ready", async () => (await fetch(`${admin}/ready`)).status === 200);
        assert.equal(await get(port, "k"), "VALUE k 0 1\r\na\r\nEND\r\n");

        const same = await reload(admin);
        assert.deepEqual([same.status, same.body.ok, same.body.changed, same.body.summary], [
          200,
          true,
          false,
          "unchanged",
        ]);

        rewrite(proxy.conf, yaml(b));
        const applied = await reload(admin);
        assert.equal(applied.status, 200);
        assert.equal(applied.body.summary, "pools changed: mc; servers added: mc/s; servers removed: mc/s");
        if (workers > 1) {
          const outcomes = applied.body.workers as { ok: boolean }[];
          assert.deepEqual(outcomes.map((o) => o.ok), [true, true], "every worker applied it");
        }
        for (let i = 0; i < 6; i++) assert.equal(await get(port, "k"), "VALUE k 0 1\r\nb\r\nEND\r\n");

        rewrite(proxy.conf, "mc:\n  listen: 127.0.0.1:1\n  hash: nope\n  servers:\n   - 127.0.0.1:2:1\n");
        const refused = await reload(admin);
        assert.equal(refused.status, 422);
        assert.equal(refused.body.ok, false);
        assert.match(String(refused.body.error), /conf: directive "hash" is not a valid hash/);
        assert.equal(
          await get(port, "k"),
          "VALUE k 0 1\r\nb\r\nEND\r\n",
          "the configuration in force serves on",
        );

        const m = await parseExposition(await (await fetch(`${admin}/metrics`)).text());
        assert.equal(valueOf(m, "tsproxy_config_reloads_total", { result: "ok" }), 1);
        assert.equal(valueOf(m, "tsproxy_config_reloads_total", { result: "failed" }), 1);
        assert.equal(valueOf(m, "tsproxy_config_last_reload_successful"), 0);
        assert.equal(
          valueOf(m, "tsproxy_config_info", { file: proxy.conf, checksum: String(applied.body.checksum) }),
          1,
        );
        assert.match(proxy.stderr(), /reloaded '.*' \(sha256 [0-9a-f]{12}\) in \d+ ms: pools changed: mc/);
        assert.match(
          proxy.stderr(),
          /reload of '.*' refused, the configuration in force is kept: conf: directive "hash"/,
        );
      } finally {
        await proxy.stop();
        await a.close();
        await b.close();
      }
    },
  });
}

Deno.test("SIGUSR2 reloads; SIGUSR1 reloads too, and the V8 inspector Deno opens on it is closed at once", async () => {
  const a = await FakeMemcached.start(), b = await FakeMemcached.start();
  a.faults.set({ mode: "reply", raw: "VALUE k 0 1\r\na\r\nEND\r\n", times: Infinity });
  b.faults.set({ mode: "reply", raw: "VALUE k 0 1\r\nb\r\nEND\r\n", times: Infinity });
  const port = freePort();
  const yaml = (fake: FakeMemcached) =>
    `mc:\n  listen: 127.0.0.1:${port}\n  servers:\n   - ${fake.address}:1 s\n`;
  const proxy = await startTsproxy(yaml(a), [port], ["--admin-port=0"]);
  try {
    rewrite(proxy.conf, yaml(b));
    proxy.child.kill("SIGUSR2");
    await waitFor("the reload", async () => (await get(port, "k")).includes("b"));
    // Deno installs its SIGUSR1 handler half a second after start.
    await new Promise((r) => setTimeout(r, 600));
    rewrite(proxy.conf, yaml(a));
    proxy.child.kill("SIGUSR1");
    await waitFor("the reload", async () => (await get(port, "k")).includes("a"));
    await waitFor(
      "the inspector to be closed",
      () => Promise.resolve(proxy.stderr().includes("closed the V8 inspector")),
    );
    assert.match(proxy.stderr(), /signal 12 \(SIGUSR2\) received/);
    assert.match(proxy.stderr(), /signal 10 \(SIGUSR1\) received/);
  } finally {
    await proxy.stop();
    await a.close();
    await b.close();
  }
});
