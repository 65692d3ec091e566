/**
 * Graceful stop: once the listeners are closed, every client is closed as soon as the requests it
 * sent are answered; past the deadline the rest are failed with an error reply and closed.
 */
import { Level, log } from "../log.ts";
import { SHUTDOWN_REASON } from "./errors.ts";
import { openClients } from "./listener.ts";

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

/** Resolves once no client is open, or after `ms`. */
function allClosed(ms: number): Promise<void> {
  if (openClients.all.size === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      openClients.onEmpty = null;
      resolve();
    }
    openClients.onEmpty = done;
  });
}

/** The pending requests of every open client. */
function pendingRequests(): number {
  let n = 0;
  for (const c of openClients.all) n += c.pending;
  return n;
}

/** Drains every open client (the listeners must be closed already) within `timeoutMs`. */
export async function drainClients(timeoutMs: number): Promise<DrainReport> {
  const started = performance.now();
  const report: DrainReport = {
    clients: openClients.all.size,
    requests: pendingRequests(),
    abortedClients: 0,
    failedRequests: 0,
    ms: 0,
  };
  log(
    Level.NOTICE,
    "core",
    `drain started: ${report.clients} clients with ${report.requests} requests in flight; deadline ${timeoutMs} ms`,
  );
  for (const c of [...openClients.all]) c.drain();
  await allClosed(timeoutMs);
  if (openClients.all.size > 0) {
    report.abortedClients = openClients.all.size;
    for (const c of [...openClients.all]) report.failedRequests += c.abort(SHUTDOWN_REASON);
    await allClosed(FLUSH_MS);
  }
  report.ms = Math.round(performance.now() - started);
  log(
    Level.NOTICE,
    "core",
    `drain done in ${report.ms} ms: ${
      report.clients - report.abortedClients
    } clients closed once answered, ` +
      `${report.abortedClients} at the deadline with ${report.failedRequests} requests failed`,
  );
  return report;
}
