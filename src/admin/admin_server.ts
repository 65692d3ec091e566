/**
 * The HTTP admin endpoint, off the proxy's hot path: Prometheus metrics, the stats document, and
 * liveness and readiness probes.
 */
import { errorMessage } from "../core/errors.ts";
import { type BuildInfo, CONTENT_TYPE, metricsText } from "../metrics/exposition.ts";
import type { StatsSnapshot } from "../stats/snapshot.ts";
import { currentHeader, statsJson } from "../stats/stats_json.ts";
import { readiness } from "./readiness.ts";
import type { ReloadOutcome } from "../reload.ts";

/** What the endpoint serves from. */
export interface AdminSource {
  /** This process's counters, or all workers' summed. */
  snapshot(): Promise<StatsSnapshot>;
  /** Reloads the configuration file (POST /reload). */
  reload(): Promise<ReloadOutcome>;
  build: BuildInfo;
}

const TEXT = "text/plain; charset=utf-8";

function text(body: string, status = 200, type = TEXT): Response {
  return new Response(body, { status, headers: { "content-type": type } });
}

/** Answers one admin request. */
export async function handleAdmin(req: Request, source: AdminSource): Promise<Response> {
  const path = new URL(req.url).pathname;
  const routes = ["/metrics", "/stats", "/healthz", "/ready", "/reload"];
  if (!routes.includes(path)) return text(`not found; try ${routes.join(", ")}\n`, 404);
  const allowed = path === "/reload" ? ["POST"] : ["GET", "HEAD"];
  if (!allowed.includes(req.method)) {
    return new Response("method not allowed\n", { status: 405, headers: { allow: allowed.join(", ") } });
  }
  if (path === "/reload") {
    const outcome = await source.reload();
    // 422: the file was refused (the configuration in force is kept); 500: workers disagreed.
    const status = outcome.ok ? 200 : outcome.changed ? 500 : 422;
    return new Response(JSON.stringify(outcome) + "\n", {
      status,
      headers: { "content-type": "application/json" },
    });
  }
  if (path === "/healthz") return text("ok\n");
  let snap: StatsSnapshot;
  try {
    snap = await source.snapshot();
  } catch (err) {
    return text(`no stats: ${errorMessage(err)}\n`, 503);
  }
  switch (path) {
    case "/metrics":
      return text(metricsText(snap, source.build), 200, CONTENT_TYPE);
    case "/stats":
      return text(statsJson(currentHeader(), snap), 200, "application/json");
    default: {
      const { ready, reasons } = readiness(snap);
      return ready ? text("ready\n") : text(`not ready:\n${reasons.map((r) => `- ${r}\n`).join("")}`, 503);
    }
  }
}

/**
 * Serves the admin endpoint on addr:port; throws when the port cannot be bound (the message names
 * the address, as the stats port's does).
 */
export function serveAdmin(addr: string, port: number, source: AdminSource): Deno.HttpServer {
  try {
    return Deno.serve(
      { hostname: addr, port, onListen: () => {}, onError: (err) => text(`${errorMessage(err)}\n`, 500) },
      (req) => handleAdmin(req, source),
    );
  } catch (err) {
    throw new Error(`bind on admin addr '${addr}:${port}' failed: ${errorMessage(err)}`);
  }
}
