/**
 * Differential test of the runtime log lines nutcracker 0.5.0 writes at its default level: the same
 * events played through nutcracker and through tsproxy (each with `-o` to its own file) give the same
 * messages in the same order, descriptor and message numbers aside (and the `file.c:line` / module
 * part before the message).
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import { freePort, type ProxyProc, startNutcracker, startTsproxy } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { needs } from "../support/needs.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends `data`, waits for the replies or the close, then closes. */
async function poke(port: number, data: string): Promise<void> {
  const wire = await Wire.connect(port);
  await wire.send(data);
  await wire.drain(150);
  wire.close();
}

/** The messages of a log file: no timestamp, no source, no banner; numbers of descriptors and messages as N. */
function messages(file: string): string[] {
  return Deno.readTextFileSync(file).split("\n")
    .map((l) => l.replace(/^\[[^\]]*\] \S+ /, ""))
    .filter((l) => l !== "" && !/^nutcracker-0\.5\.0|^run, rabbit run/.test(l))
    .map((l) => l.replace(/\b(c|s|req|rsp) \d+/g, "$1 N"));
}

Deno.test({
  name: "nutcracker's runtime error and warning lines come out of tsproxy in its words",
  ...needs("nutcracker"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const mc = await FakeMemcached.start();
    const rd = await FakeRedis.start({ requirepass: "pw" });
    const run = async (start: typeof startNutcracker): Promise<string[]> => {
      const [mcPort, rdPort, badPort, prePort] = [freePort(), freePort(), freePort(), freePort()];
      const yaml = `mc:\n  listen: 127.0.0.1:${mcPort}\n  servers:\n   - ${mc.address}:1\n` +
        `rd:\n  listen: 127.0.0.1:${rdPort}\n  redis: true\n  redis_db: 1\n  redis_auth: pw\n` +
        `  servers:\n   - ${rd.address}:1 red\n` +
        `bad:\n  listen: 127.0.0.1:${badPort}\n  servers:\n   - nosuchhost.invalid:11211:1\n` +
        `pre:\n  listen: 127.0.0.1:${prePort}\n  preconnect: true\n  servers:\n` +
        `   - /nonexistent/tsproxy-log-diff.sock:1 named\n`;
      const log = await Deno.makeTempFile({ suffix: ".log" });
      let proxy: ProxyProc | null = null;
      try {
        proxy = await start(yaml, [mcPort, rdPort, badPort, prePort], ["-o", log]);
        await poke(prePort, "get a\r\n");
        await poke(mcPort, `get ${"k".repeat(300)}\r\n`);
        await poke(mcPort, "get \r\n");
        await poke(mcPort, "set a 0 0 10\r\nabc");
        await poke(rdPort, "*1\r\n$4\r\nKEYS\r\n");
        await poke(rdPort, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$3\r\nGET\r\n$20000\r\n");
        await poke(rdPort, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
        await poke(badPort, "get a\r\n");
        await sleep(100);
        return messages(log);
      } finally {
        await proxy?.stop();
        await Deno.remove(log).catch(() => {});
      }
    };
    try {
      const nutcracker = await run(startNutcracker);
      const tsproxy = await run(startTsproxy);
      assert.deepEqual(tsproxy, nutcracker);
      assert.equal(nutcracker.length, 10, nutcracker.join("\n"));
    } finally {
      await mc.close();
      await rd.close();
    }
  },
});
