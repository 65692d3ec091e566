import assert from "assert";
import { isAddress, lookupAll } from "../../src/core/resolve.ts";

Deno.test("canonical IPv4 and any IPv6 literal resolve to themselves; octal-looking quads and names do not", () => {
  for (const a of ["127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "fe80::1"]) assert.ok(isAddress(a), a);
  for (const h of ["010.0.0.1", "256.1.1.1", "1.2.3", "localhost", "a.b.c.d", ""]) {
    assert.ok(!isAddress(h), h);
  }
});

Deno.test("lookupAll answers literals without a lookup and names through getaddrinfo", async () => {
  assert.deepEqual(await lookupAll("127.0.0.1"), [{ address: "127.0.0.1" }]);
  const local = await lookupAll("localhost");
  assert.ok(local.some((a) => a.address === "127.0.0.1" || a.address === "::1"), JSON.stringify(local));
  await assert.rejects(lookupAll("no..such.invalid"));
});
