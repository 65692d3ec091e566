/**
 * Graceful stop of pools whose listeners are closed (all of them on SIGTERM, removed ones on a
 * reload): every client is closed as soon as the requests it sent are answered; past the deadline
 * the rest are failed with an error reply and closed.
 */
import { Level, log } from "../log.ts";
import { SHUTDOWN_REASON } from "./errors.ts";
import type { ClientConnection } from "./client_connection.ts";
import type { Pool } from "./pool.ts";

/** What a drain found and left, for its log lines. */
export interface DrainReport {
  /** Clients open, and their requests unanswered, when the drain began. */
  clients: number;
  requests: number;
  /** Clients still open at the deadline, and the requests failed then. */
  abortedClients: number;
  failedRequests: number;
  ms: number;
}

/** How long closed clients' last replies get to be written after the deadline. */
const FLUSH_MS = 1000;

function openClients(pools: readonly Pool[]): ClientConnection[] {
  return pools.flatMap((p) => [...p.clients]);
}

/** Resolves once no client of `pools` is open, or after `ms`. */
function allClosed(pools: readonly Pool[], ms: number): Promise<void> {
  const waiting = pools.filter((p) => p.clients.size > 0);
  if (waiting.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = waiting.length;
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const p of waiting) p.onNoClients = null;
      resolve();
    }
    for (const p of waiting) {
      p.onNoClients = () => {
        p.onNoClients = null;
        if (--left === 0) done();
      };
    }
  });
}

/**
 * Drains every open client of `pools` (their listeners must be closed already) within `timeoutMs`;
 * `what` names the drain in its two log lines.
 */
export async function drainPools(
  pools: readonly Pool[],
  timeoutMs: number,
  what = "drain",
): Promise<DrainReport> {
  const started = performance.now();
  const clients = openClients(pools);
  const report: DrainReport = {
    clients: clients.length,
    requests: clients.reduce((n, c) => n + c.pending, 0),
    abortedClients: 0,
    failedRequests: 0,
    ms: 0,
  };
  log(
    Level.NOTICE,
    "core",
    `${what} started: ${report.clients} clients with ${report.requests} requests in flight; deadline ${timeoutMs} ms`,
  );
  for (const c of clients) c.drain();
  await allClosed(pools, timeoutMs);
  const left = openClients(pools);
  if (left.length > 0) {
    report.abortedClients = left.length;
    for (const c of left) report.failedRequests += c.abort(SHUTDOWN_REASON);
    await allClosed(pools, FLUSH_MS);
  }
  report.ms = Math.round(performance.now() - started);
  log(
    Level.NOTICE,
    "core",
    `${what} done in ${report.ms} ms: ${
      report.clients - report.abortedClients
    } clients closed once answered, ` +
      `${report.abortedClients} at the deadline with ${report.failedRequests} requests failed`,
  );
  return report;
}
