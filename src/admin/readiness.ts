/** Whether the proxy can take traffic, for load balancers and Kubernetes readiness probes. */
import type { StatsSnapshot } from "../stats/snapshot.ts";

/** Ready, or the reasons it is not (one line each). */
export function readiness(snap: StatsSnapshot): { ready: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (snap.listening < snap.processes) {
    reasons.push(
      snap.processes === 1
        ? "not listening (starting or draining)"
        : `${
          snap.processes - snap.listening
        } of ${snap.processes} processes not listening (starting or draining)`,
    );
  }
  for (const pool of snap.pools) {
    // A server counts as live while at least one process has it in its pool.
    const live = pool.servers.filter((s) => s.ejected < snap.processes).length;
    if (live === 0) reasons.push(`pool ${pool.name}: all ${pool.servers.length} servers ejected`);
  }
  return { ready: reasons.length === 0, reasons };
}
