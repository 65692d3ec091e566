/**
 * The failover checks at the test suite's bounded size (SMALL) behind tsproxy, against real
 * redis-server masters, replicas and three sentinels; their registration; and what they say behind
 * nutcracker (no Sentinel support). `deno task harness --only failover` plays them at full size.
 */
import assert from "assert";
import { FAILOVER, FAILOVER_CHECKS, runFailover, SMALL } from "../../../harness/scenarios/failover.ts";
import { needs } from "../../support/needs.ts";

for (const c of FAILOVER) {
  Deno.test({
    name: `failover check, bounded, behind tsproxy: ${c.name}`,
    ...needs("redis-server"),
    fn: async () => {
      const lines: string[] = [];
      try {
        await runFailover(c, "tsproxy", SMALL, (line) => lines.push(line));
      } finally {
        console.log(lines.join("\n"));
      }
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.ok(lines[0].startsWith("    tsproxy: "), lines[0]);
    },
  });
}

Deno.test("behind nutcracker every failover check says it does not apply", async () => {
  for (const c of FAILOVER) {
    const lines: string[] = [];
    await runFailover(c, "nutcracker", SMALL, (line) => lines.push(line));
    assert.deepEqual(lines, ["    nutcracker: not applicable, nutcracker 0.5.0 has no Sentinel support"]);
  }
});

Deno.test("every failover check is registered once for deno task harness, needing redis-server", () => {
  assert.deepEqual(FAILOVER_CHECKS.map((c) => c.name), FAILOVER.map((c) => c.name));
  for (const c of FAILOVER_CHECKS) assert.deepEqual(c.needs, ["redis-server"]);
});
