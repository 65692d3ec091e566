import assert from "assert";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../src/protocol/redis/reply_parser.ts";
import { spawn, waitForPort } from "../harness/procs.ts";
import { Wire } from "../harness/wire.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BACKEND_PORTS = [21211, 21212, 21213, 21214, 26379, 26380, 26381, 26382];

function portOpen(port: number): Promise<boolean> {
  return Deno.connect({ hostname: "127.0.0.1", port }).then((c) => (c.close(), true), () => false);
}

/**
 * Runs what `deno task start` runs (directly, so the signal reaches the demo itself) with `env`,
 * talks to both pools, stops it with Ctrl-C's SIGINT and checks every backend is gone. Returns the
 * demo's output.
 */
async function demoRoundTrip(env?: Record<string, string>): Promise<string> {
  for (const port of [22121, 22122, 22222, ...BACKEND_PORTS]) {
    if (await portOpen(port)) throw new Error(`port ${port} is taken: the demo needs it`);
  }
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks.start;
  assert.equal(task, "deno run -A src/demo.ts");
  const out = Deno.makeTempFileSync();
  const p = spawn("/bin/sh", ["-c", `exec "$0" run -A src/demo.ts > ${out}`, Deno.execPath()], {
    cwd: ROOT,
    env,
  });
  try {
    await waitForPort(22121, 20000);
    await waitForPort(22122, 5000);
    const mc = await Wire.connect(22121);
    await mc.send("set demo 0 0 2\r\nhi\r\nget demo\r\n");
    const m = await mc.replies(new MemcacheReplyParser(), 2);
    assert.equal(new TextDecoder().decode(m.replies[1]), "VALUE demo 0 2\r\nhi\r\nEND\r\n");
    mc.close();
    const rd = await Wire.connect(22122);
    await rd.send("*3\r\n$3\r\nSET\r\n$4\r\ndemo\r\n$2\r\nhi\r\n*2\r\n$3\r\nGET\r\n$4\r\ndemo\r\n");
    const r = await rd.replies(new RedisReplyParser(), 2);
    assert.equal(new TextDecoder().decode(r.replies[1]), "$2\r\nhi\r\n");
    rd.close();
    p.child.kill("SIGINT");
    await p.child.status;
    for (const port of BACKEND_PORTS) {
      assert.equal(await portOpen(port), false, `backend on ${port} still up`);
    }
    return Deno.readTextFileSync(out);
  } finally {
    await p.stop();
    Deno.removeSync(out);
  }
}

Deno.test("deno task start serves conf/demo.yml's pools, and Ctrl-C stops every backend it started", async () => {
  await demoRoundTrip();
});

Deno.test("without memcached and redis-server installed, the demo runs on the in-process fakes", async () => {
  // A PATH with deno alone: the demo finds neither backend binary (nor a shell to ask).
  const bin = Deno.makeTempDirSync();
  Deno.symlinkSync(Deno.execPath(), `${bin}/deno`);
  try {
    const output = await demoRoundTrip({ PATH: bin });
    assert.match(output, /in-process fake memcached 127\.0\.0\.1:21211/);
    assert.match(output, /in-process fake redis 127\.0\.0\.1:26379/);
  } finally {
    Deno.removeSync(bin, { recursive: true });
  }
});
