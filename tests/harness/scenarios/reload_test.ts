/**
 * The reload checks at the test suite's bounded size (SMALL: 4 clients, 250 ms between reloads)
 * behind tsproxy, their registration, what they say behind nutcracker (which has no reload), and the
 * placement comparison noticing keys a fresh start places elsewhere. `deno task harness --only
 * reload` plays them at full size.
 */
import assert from "assert";
import { REAL_BINARY } from "../../../harness/abuse_lab.ts";
import { freePort } from "../../../harness/procs.ts";
import { type PoolSpec, withReloadLab } from "../../../harness/reload_lab.ts";
import { RELOAD, RELOAD_CHECKS, runReload, samePlacement, SMALL } from "../../../harness/scenarios/reload.ts";
import { needs } from "../../support/needs.ts";

for (const c of RELOAD) {
  Deno.test({
    name: `reload check, bounded, behind tsproxy: ${c.name}`,
    ...needs(REAL_BINARY[c.proto]),
    fn: async () => {
      const lines: string[] = [];
      try {
        await runReload(c, "tsproxy", SMALL, (line) => lines.push(line));
      } finally {
        console.log(lines.join("\n"));
      }
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.ok(lines[0].startsWith("    tsproxy: "), lines[0]);
    },
  });
}

Deno.test("behind nutcracker every reload check says it does not apply and starts nothing", async () => {
  for (const c of RELOAD) {
    const lines: string[] = [];
    await runReload(c, "nutcracker", SMALL, (line) => lines.push(line));
    assert.deepEqual(lines, ["    nutcracker: not applicable, nutcracker 0.5.0 has no configuration reload"]);
  }
});

Deno.test("every reload check is registered once for deno task harness, needing its real backend", () => {
  assert.deepEqual(RELOAD_CHECKS.map((c) => c.name), RELOAD.map((c) => c.name));
  for (const c of RELOAD_CHECKS) {
    assert.equal(c.group, "reload: configuration changes under pipelined load (tsproxy only)");
    assert.deepEqual(c.needs, [c.name.startsWith("memcache:") ? "memcached" : "redis-server"], c.name);
  }
});

Deno.test({
  name: "the placement comparison finds every key on the file in force and misses those a fresh start " +
    "on another file places elsewhere",
  ...needs("memcached"),
  fn: async () => {
    const pool: PoolSpec = { name: "p", port: freePort(), servers: [["s1", 1], ["s2", 1], ["s3", 1]] };
    await withReloadLab("memcache", ["s1", "s2", "s3"], [pool], {}, async (lab) => {
      assert.deepEqual(await samePlacement(lab, pool, 60), { found: 60, samples: [] });
      const other = await samePlacement(lab, { ...pool, servers: [["s1", 1], ["s3", 1]] }, 60);
      assert.ok(other.found < 60, `${other.found} found`);
      assert.match(other.samples[0], /^request "get placed:/);
    });
  },
});
