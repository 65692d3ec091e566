/**
 * nutcracker's post-validation: required directives, defaults, per-pool checks, duplicate listen
 * addresses and pool names, and the name sort that fixes server indexes and pool order.
 */
import type { Config, PoolConfig, ServerConfig } from "./types.ts";
import type { PoolDraft } from "./directives.ts";
import { ConfigError } from "./error.ts";

const encoder = new TextEncoder();

/** nutcracker's `string_compare`: shorter first, then bytewise. */
function compareNames(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** Sorts with compareNames on `key` (stably, like glibc's merge-sort qsort) and returns the first equal neighbours. */
function sortAndFindTwins<T>(items: T[], key: (item: T) => string): [T, T] | null {
  items.sort((a, b) => compareNames(key(a), key(b)));
  for (let i = 0; i + 1 < items.length; i++) {
    if (compareNames(key(items[i]), key(items[i + 1])) === 0) return [items[i], items[i + 1]];
  }
  return null;
}

function finishPool(draft: PoolDraft): PoolConfig {
  const pool = `pool '${draft.name}'`;
  if (draft.listen === undefined) throw new ConfigError('conf: directive "listen:" is missing', pool);
  if (draft.serverConnections === 0) {
    throw new ConfigError('conf: directive "server_connections:" cannot be 0', pool);
  }
  if (!draft.redis && draft.redisAuth !== undefined) {
    throw new ConfigError('conf: directive "redis_auth:" is only valid for a redis pool', pool);
  }
  if (draft.servers.length === 0) {
    // Only reachable when the pool's one sequence sits under another key than `servers`.
    throw new ConfigError(`conf: pool '${draft.name}' has no servers`, "its sequence is not under 'servers'");
  }
  const servers: ServerConfig[] = [...draft.servers];
  const twins = sortAndFindTwins(servers, (s) => s.name);
  if (twins !== null) {
    throw new ConfigError(
      `conf: pool '${draft.name}' has servers with same name '${twins[0].name}'`,
      `entries '${twins[0].raw}' and '${twins[1].raw}'`,
    );
  }
  return {
    name: draft.name,
    listen: draft.listen,
    hash: draft.hash ?? "fnv1a_64",
    hashTag: draft.hashTag ?? null,
    distribution: draft.distribution ?? "ketama",
    timeout: draft.timeout ?? -1,
    backlog: draft.backlog ?? 512,
    // nutcracker resets this to 0 (unlimited); tsproxy enforces the configured value.
    clientConnections: draft.clientConnections ?? 0,
    redis: draft.redis ?? false,
    redisAuth: draft.redisAuth ?? null,
    redisDb: draft.redisDb ?? 0,
    preconnect: draft.preconnect ?? false,
    tcpkeepalive: draft.tcpkeepalive ?? false,
    reuseport: draft.reuseport ?? false,
    clientOutputLimit: draft.clientOutputLimit ?? DEFAULT_CLIENT_LIMIT,
    clientInputLimit: draft.clientInputLimit ?? DEFAULT_CLIENT_LIMIT,
    pinnedConnections: draft.pinnedConnections ?? DEFAULT_PINNED_CONNECTIONS,
    serverConnections: draft.serverConnections ?? 1,
    autoEjectHosts: draft.autoEjectHosts ?? false,
    serverRetryTimeout: draft.serverRetryTimeout ?? 30000,
    serverFailureLimit: draft.serverFailureLimit ?? 2,
    servers,
  };
}

/** Default of pinned_connections: room for a busy pool's transactions and subscribers. */
export const DEFAULT_PINNED_CONNECTIONS = 256;

/** Default of client_output_limit and client_input_limit: 256 MiB. */
export const DEFAULT_CLIENT_LIMIT = 256 * 1024 * 1024;

/**
 * Validates the pools read from `file` in nutcracker's order (each pool in file order, then
 * duplicate listen values, then duplicate names) and returns them with defaults applied, servers
 * sorted by name and pools sorted by name. Throws ConfigError.
 */
export function finishConfig(drafts: PoolDraft[], file: string): Config {
  const pools = drafts.map(finishPool);
  const sameListen = sortAndFindTwins(pools, (p) => p.listen.raw);
  if (sameListen !== null) {
    const [a, b] = sameListen;
    throw new ConfigError(
      `conf: pools '${a.name}' and '${b.name}' have the same listen address '${a.listen.raw}'`,
    );
  }
  const sameName = sortAndFindTwins(pools, (p) => p.name);
  if (sameName !== null) {
    throw new ConfigError(`conf: '${file}' has pools with same name ${sameName[0].name}'`);
  }
  return { file, pools };
}
