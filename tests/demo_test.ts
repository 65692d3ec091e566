import assert from "assert";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../src/protocol/redis/reply_parser.ts";
import { spawn, waitForPort } from "./support/procs.ts";
import { Wire } from "./support/wire.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BACKEND_PORTS = [21211, 21212, 21213, 21214, 26379, 26380, 26381, 26382];

function portOpen(port: number): Promise<boolean> {
  return Deno.connect({ hostname: "127.0.0.1", port }).then((c) => (c.close(), true), () => false);
}

Deno.test("deno task start serves conf/demo.yml's pools, and Ctrl-C stops every backend it started", async () => {
  for (const port of [22121, 22122, 22222, ...BACKEND_PORTS]) {
    if (await portOpen(port)) throw new Error(`port ${port} is taken: the demo needs it`);
  }
  // Run what `deno task start` runs, directly, so the signal reaches the demo itself.
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks.start;
  assert.equal(task, "deno run -A src/demo.ts");
  const p = spawn(Deno.execPath(), ["run", "-A", "src/demo.ts"], { cwd: ROOT });
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
  } finally {
    await p.stop();
  }
});
