/**
 * The memcache failure scenarios (harness/scenarios/memcache_failures.ts) behind the real nutcracker
 * 0.5.0 and behind tsproxy side by side, each in front of its own identical backends: the clients
 * must get the same bytes and the same open/closed outcome, apart from the differences the README
 * documents. nutcracker's answers are also checked against the catalogue the core test relies on.
 */
import assert from "assert";
import { type Lab, playOn, type Scenario, transcript } from "../../harness/memcache_lab.ts";
import { SCENARIOS } from "../../harness/scenarios/memcache_failures.ts";
import { needs } from "../support/needs.ts";
import { type ProxyKind } from "../../harness/procs.ts";

/** Plays the scenario behind both proxies at once; both labs are closed whatever happens. */
async function sideBySide(scenario: Scenario): Promise<{ nutcracker: Lab; tsproxy: Lab }> {
  const kinds: ProxyKind[] = ["nutcracker", "tsproxy"];
  const runs = await Promise.allSettled(kinds.map((kind) => playOn(kind, scenario)));
  const failed = runs.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const [nutcracker, tsproxy] = runs.map((r) => (r as PromiseFulfilledResult<Lab>).value);
  return { nutcracker, tsproxy };
}

function without<T>(steps: Record<string, T>, labels: string[]): Record<string, T> {
  return Object.fromEntries(Object.entries(steps).filter(([label]) => !labels.includes(label)));
}

for (const scenario of Object.values(SCENARIOS) as Scenario[]) {
  const documented = scenario.documented;
  const differing = Object.keys(documented?.nutcracker ?? {});
  Deno.test({
    name: `nutcracker and tsproxy give the client the same bytes and close: ${scenario.behaviour}` +
      (documented ? " (documented difference)" : ""),
    ...needs("nutcracker", ...(scenario.needs ?? [])),
    async fn() {
      const labs = await sideBySide(scenario);
      const nc = transcript(labs.nutcracker);
      const ts = transcript(labs.tsproxy);
      assert.deepEqual(
        without(ts, differing),
        without(nc, differing),
        "tsproxy differs from nutcracker 0.5.0",
      );
      // The oracle agrees with the catalogue, documented differences included.
      assert.deepEqual(
        nc,
        { ...scenario.expect, ...documented?.nutcracker },
        "nutcracker 0.5.0 differs from the catalogue",
      );
      for (const label of differing) {
        assert.deepEqual(ts[label], scenario.expect[label], `tsproxy at ${label} (${documented!.why})`);
      }
    },
  });
}
