/**
 * Every check `deno task harness` can run: hash-tag routing and fragment counts, then the memcache
 * and redis failure catalogues (ejection, retry, timeouts, latency, refused and failing servers),
 * each compared step by step with what nutcracker 0.5.0 gives the client, then the abuse checks
 * (fuzzing, many, slow, abandoning and resetting clients beside checking clients), with figures,
 * then the reload checks (tsproxy's configuration changed under load), with figures, then the
 * failover checks (Redis Sentinel and replicas under load), with figures.
 */
import { playOn, type Scenario, transcript } from "./memcache_lab.ts";
import type { ProxyKind } from "./procs.ts";
import { assertSteps, type Check } from "./runner.ts";
import { SCENARIOS as MEMCACHE_SCENARIOS } from "./scenarios/memcache_failures.ts";
import { playRedis, SCENARIOS as REDIS_SCENARIOS } from "./scenarios/redis_failures.ts";
import { ROUTING_CHECKS } from "./scenarios/routing.ts";
import { ABUSE_CHECKS } from "./scenarios/abuse.ts";
import { RELOAD_CHECKS } from "./scenarios/reload.ts";
import { FAILOVER_CHECKS } from "./scenarios/failover.ts";

/** A memcache scenario's transcript must be the catalogue's: nutcracker's own where tsproxy differs on purpose. */
async function memcacheScenario(kind: ProxyKind, sc: Scenario): Promise<void> {
  const lab = await playOn(kind, sc);
  assertSteps(
    transcript(lab),
    kind === "nutcracker" ? { ...sc.expect, ...sc.documented?.nutcracker } : sc.expect,
  );
}

export const CHECKS: Check[] = [
  ...ROUTING_CHECKS,
  ...(Object.values(MEMCACHE_SCENARIOS) as Scenario[]).map((sc) => ({
    group: "memcache failures",
    name: sc.behaviour,
    needs: sc.needs ?? [],
    run: (kind: ProxyKind) => memcacheScenario(kind, sc),
  })),
  ...REDIS_SCENARIOS.map((sc) => ({
    group: "redis failures",
    name: sc.behaviour,
    needs: [],
    run: async (kind: ProxyKind) => assertSteps((await playRedis(kind, sc)).seen, sc.expect),
  })),
  ...ABUSE_CHECKS,
  ...RELOAD_CHECKS,
  ...FAILOVER_CHECKS,
];
