import assert from "assert";
import { freePort } from "../../harness/procs.ts";
import { scrape } from "../../src/top/scrape.ts";

/** Serves one fixed answer on a free loopback port for the length of `body`. */
async function serving(status: number, text: string, body: (url: string) => Promise<void>): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(text, { status }),
  );
  try {
    await body(`http://127.0.0.1:${server.addr.port}/metrics`);
  } finally {
    await server.shutdown();
  }
}

async function failure(url: string): Promise<string> {
  const e = await scrape(url, 2000).then(() => undefined, (e: Error) => e);
  assert.ok(e instanceof Error, "the scrape succeeded");
  return e.message;
}

Deno.test("a scrape parses the page and notes the clocks it was taken at", async () => {
  await serving(200, "# TYPE tsproxy_connections gauge\ntsproxy_connections 4\n", async (url) => {
    const before = Date.now() / 1000;
    const s = await scrape(url, 2000);
    assert.equal(s.families.get("tsproxy_connections")?.samples[0].value, 4);
    assert.ok(s.wallSeconds >= before - 1 && s.wallSeconds <= Date.now() / 1000 + 1);
    assert.ok(s.monoMs <= performance.now());
  });
});

Deno.test("an endpoint nothing listens on is reported as unreachable with the reason", async () => {
  const url = `http://127.0.0.1:${freePort()}/metrics`;
  assert.match(await failure(url), new RegExp(`^cannot reach ${url}: Connection refused`));
});

Deno.test("an HTTP error status is reported with its code", async () => {
  await serving(404, "no such page", async (url) => {
    assert.equal(await failure(url), `${url} answered HTTP 404 Not Found`);
  });
});

Deno.test("a page that is not the text format is reported with the parser's line and reason", async () => {
  await serving(200, "ok 1\n<html>\n", async (url) => {
    assert.equal(
      await failure(url),
      `${url} served metrics top cannot read: line 2: expected a metric name at "<html>"`,
    );
  });
});
