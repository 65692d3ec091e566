import assert from "assert";
import { maxClients, openFileLimit } from "../../src/core/fd_limit.ts";
import type { PoolConfig } from "../../src/config/types.ts";

const pool = (serverConnections: number, servers: number) =>
  ({ serverConnections, servers: new Array(servers).fill({}) }) as unknown as PoolConfig;

Deno.test("client cap is the fd limit minus each pool's server connections and listener, minus 32", () => {
  assert.equal(maxClients([pool(1, 1)], 40), 6); // nutcracker served exactly 6 clients under ulimit -n 40
  assert.equal(maxClients([pool(2, 4), pool(1, 10)], 1024), 1024 - 9 - 11 - 32);
  assert.equal(maxClients([pool(1, 1)], 10), 0);
  assert.equal(maxClients([pool(1, 1)], Infinity), Infinity);
});

Deno.test("the fd limit is read from the process's own limits", () => {
  const limit = openFileLimit();
  assert.ok(limit > 32, String(limit));
});
