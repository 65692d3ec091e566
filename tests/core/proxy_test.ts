import assert from "assert";
import { parseConfig } from "../../src/config/load.ts";
import { createPools, startProxy } from "../../src/core/proxy.ts";
import { protocolFor } from "../../src/protocol/index.ts";
import { freePort } from "../../harness/procs.ts";

const settled = (p: Promise<void>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);

Deno.test("firstClient settles only once a pool accepts a client", async () => {
  const port = freePort();
  const config = await parseConfig(
    `a:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:${freePort()}:1\n` +
      `b:\n  listen: 127.0.0.1:${freePort()}\n  servers:\n   - 127.0.0.1:${freePort()}:1\n`,
    "proxy_test.yml",
  );
  const proxy = startProxy(await createPools(config, 16384, protocolFor), 16384);
  try {
    assert.equal(await settled(proxy.firstClient), false, "no client yet");
    const client = await Deno.connect({ hostname: "127.0.0.1", port });
    assert.equal(await settled(proxy.firstClient), true, "the first client of pool a");
    client.close();
  } finally {
    proxy.close();
  }
  // Let the client connection see the close and the accept loops end before the sanitizers look.
  await new Promise((r) => setTimeout(r, 50));
});
