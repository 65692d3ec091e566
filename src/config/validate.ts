/**
 * nutcracker's post-validation: required directives, defaults, per-pool checks, duplicate listen
 * addresses and pool names, and the name sort that fixes server indexes and pool order.
 */
import type { Config, PoolConfig, SentinelConfig, ServerConfig } from "./types.ts";
import type { PoolDraft } from "./directives.ts";
import { ConfigError } from "./error.ts";
import { hasExplicitName } from "./servers.ts";

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
    // Only reachable when the pool's sequences sit under other keys than `servers`.
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
  const ha = checkHighAvailability(draft, servers);
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
    ...ha,
  };
}

/** A TCP entry's `host:port` (host case-insensitive), or a unix entry's path: what "the same address" compares. */
function addressOf(entry: SentinelConfig | ServerConfig): string {
  if ("kind" in entry && entry.kind === "unix") return entry.path;
  return `${entry.host.toLowerCase()}:${entry.port}`;
}

type HighAvailability = Pick<PoolConfig, "sentinels" | "sentinelPollInterval" | "readFrom" | "replicas">;

/**
 * tsproxy's own checks of sentinels, sentinel_poll_interval, replicas and read_from, after
 * nutcracker's (a pool without these directives is checked exactly as nutcracker checks it).
 * `servers` are the pool's checked servers.
 */
function checkHighAvailability(draft: PoolDraft, servers: readonly ServerConfig[]): HighAvailability {
  const pool = `pool '${draft.name}'`;
  const sentinels = draft.sentinels ?? [];
  const replicas = draft.replicas ?? [];
  const given: [string, boolean][] = [
    ["sentinels", draft.sentinels !== undefined],
    ["sentinel_poll_interval", draft.sentinelPollInterval !== undefined],
    ["replicas", draft.replicas !== undefined],
    ["read_from", draft.readFrom !== undefined],
  ];
  for (const [key, isGiven] of given) {
    if (isGiven && !draft.redis) {
      throw new ConfigError(`conf: directive "${key}:" is only valid for a redis pool`, pool);
    }
  }
  if (sentinels.length > 0 && replicas.length > 0) {
    throw new ConfigError(
      'conf: directive "replicas:" cannot be used with "sentinels:"',
      `${pool}: replicas come from the sentinels`,
    );
  }
  if (draft.sentinelPollInterval !== undefined) {
    if (draft.sentinelPollInterval === 0) {
      throw new ConfigError('conf: directive "sentinel_poll_interval:" cannot be 0', pool);
    }
    if (sentinels.length === 0 && replicas.length === 0) {
      throw new ConfigError(
        'conf: directive "sentinel_poll_interval:" needs "sentinels:" or "replicas:"',
        pool,
      );
    }
  }
  const sameSentinel = sortAndFindTwins([...sentinels], addressOf);
  if (sameSentinel !== null) {
    throw new ConfigError(
      `conf: pool '${draft.name}' has sentinels with same address '${addressOf(sameSentinel[0])}'`,
      `entries '${sameSentinel[0].raw}' and '${sameSentinel[1].raw}'`,
    );
  }
  if (sentinels.length > 0) {
    const unnamed = servers.find((s) => !hasExplicitName(s));
    if (unnamed !== undefined) {
      throw new ConfigError(
        `conf: pool '${draft.name}' has server '${unnamed.raw}' without a name`,
        'with "sentinels:", each server is named by its sentinel master name: "hostname:port:weight name"',
      );
    }
  }
  checkReplicas(draft.name, servers, replicas);
  const readFrom = draft.readFrom ?? "master";
  if (readFrom !== "master" && sentinels.length === 0 && replicas.length === 0) {
    throw new ConfigError(
      'conf: directive "read_from:" needs "sentinels:" or "replicas:"',
      `${pool}: read_from ${readFrom} has no replica to read from`,
    );
  }
  return {
    sentinels,
    sentinelPollInterval: draft.sentinelPollInterval ?? DEFAULT_SENTINEL_POLL_INTERVAL,
    readFrom,
    replicas,
  };
}

/** Each replica names one of the pool's servers and has an address of its own. */
function checkReplicas(
  name: string,
  servers: readonly ServerConfig[],
  replicas: readonly ServerConfig[],
): void {
  const names = new Set(servers.map((s) => s.name));
  const serverAt = new Map(servers.map((s) => [addressOf(s), s]));
  for (const replica of replicas) {
    if (!names.has(replica.name)) {
      throw new ConfigError(
        `conf: pool '${name}' has replica '${replica.raw}' of no server named '${replica.name}'`,
      );
    }
    const server = serverAt.get(addressOf(replica));
    if (server !== undefined) {
      throw new ConfigError(
        `conf: pool '${name}' has replica '${replica.raw}' at the address of server '${server.raw}'`,
      );
    }
  }
  const twins = sortAndFindTwins([...replicas], addressOf);
  if (twins !== null) {
    throw new ConfigError(
      `conf: pool '${name}' has replicas with same address '${addressOf(twins[0])}'`,
      `entries '${twins[0].raw}' and '${twins[1].raw}'`,
    );
  }
}

/** Default of sentinel_poll_interval, in milliseconds. */
export const DEFAULT_SENTINEL_POLL_INTERVAL = 10000;

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
