/** nutcracker's directive table: which keys a pool accepts and how each value is read. */
import {
  type Distribution,
  DISTRIBUTIONS,
  HASH_NAMES,
  type HashName,
  type ListenConfig,
  READ_FROM,
  type ReadFrom,
  type SentinelConfig,
  type ServerConfig,
} from "./types.ts";
import { InvalidValue } from "./error.ts";
import { ncAtoi } from "./nc_atoi.ts";
import { parseListen } from "./listen.ts";
import { hasExplicitName, parseServer } from "./servers.ts";

/** A pool while its directives are read; `undefined` is nutcracker's "unset". */
export interface PoolDraft {
  name: string;
  listen?: ListenConfig;
  hash?: HashName;
  hashTag?: Uint8Array;
  distribution?: Distribution;
  timeout?: number;
  backlog?: number;
  clientConnections?: number;
  redis?: boolean;
  redisAuth?: string;
  redisDb?: number;
  preconnect?: boolean;
  tcpkeepalive?: boolean;
  reuseport?: boolean;
  clientOutputLimit?: number;
  clientInputLimit?: number;
  pinnedConnections?: number;
  serverConnections?: number;
  autoEjectHosts?: boolean;
  serverRetryTimeout?: number;
  serverFailureLimit?: number;
  /** In file order; `servers` (and tsproxy's sequences below) may be given many times. */
  servers: ServerConfig[];
  sentinels?: SentinelConfig[];
  sentinelPollInterval?: number;
  readFrom?: ReadFrom;
  replicas?: ServerConfig[];
}

type SingleField = Exclude<keyof PoolDraft, "name" | "servers" | "sentinels" | "replicas">;
type Setter = (pool: PoolDraft, value: string) => Promise<void>;

/** A directive that may appear once per pool: a second occurrence is "a duplicate", checked first. */
function once<K extends SingleField>(
  field: K,
  parse: (value: string) => PoolDraft[K] | Promise<PoolDraft[K]>,
): Setter {
  return async (pool, value) => {
    if (pool[field] !== undefined) throw new InvalidValue("is a duplicate");
    pool[field] = await parse(value);
  };
}

function parseNumber(value: string): number {
  const n = ncAtoi(value);
  if (n < 0) throw new InvalidValue("is not a number");
  return n;
}

function parseBool(value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidValue('is not "true" or "false"');
}

function oneOf<T extends string>(names: readonly T[], reason: string): (value: string) => T {
  return (value) => {
    const found = names.find((name) => name === value);
    if (found === undefined) throw new InvalidValue(reason);
    return found;
  };
}

/** Exactly two bytes: a multi-byte UTF-8 character counts as its bytes. */
function parseHashTag(value: string): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length !== 2) throw new InvalidValue("is not a valid hash tag string with two characters");
  return bytes;
}

/**
 * A `sentinels` entry: `host:port:weight [name]` read like a server entry (PR 324's syntax for
 * twemproxy), the weight and name unused. Sentinels are reached over TCP only.
 */
function parseSentinel(value: string): SentinelConfig {
  const entry = parseServer(value);
  if (entry.kind === "unix") {
    throw new InvalidValue('has a unix socket path: sentinels take "hostname:port:weight"');
  }
  return { raw: value, host: entry.host, port: entry.port };
}

/** A `replicas` entry: `host:port:weight name`, where `name` is the name of the server it replicates. */
function parseReplica(value: string): ServerConfig {
  const entry = parseServer(value);
  if (!hasExplicitName(entry)) {
    throw new InvalidValue('has no master name in "hostname:port:weight name" format string');
  }
  return entry;
}

const DIRECTIVES: Record<string, Setter> = {
  listen: once("listen", parseListen),
  hash: once("hash", oneOf(HASH_NAMES, "is not a valid hash")),
  hash_tag: once("hashTag", parseHashTag),
  distribution: once("distribution", oneOf(DISTRIBUTIONS, "is not a valid distribution")),
  timeout: once("timeout", parseNumber),
  backlog: once("backlog", parseNumber),
  client_connections: once("clientConnections", parseNumber),
  redis: once("redis", parseBool),
  tcpkeepalive: once("tcpkeepalive", parseBool),
  // Later twemproxy's key; nutcracker 0.5.0 calls it unknown. tsproxy accepts it deliberately.
  reuseport: once("reuseport", parseBool),
  // tsproxy's own: bytes one client may hold in the proxy (replies it has not read, a request still
  // arriving) before it is closed; 0 is unlimited.
  client_output_limit: once("clientOutputLimit", parseNumber),
  client_input_limit: once("clientInputLimit", parseNumber),
  // tsproxy's own: server connections a redis pool may pin to clients at once (transactions,
  // subscriptions, blocking commands), idle ones kept for reuse included.
  pinned_connections: once("pinnedConnections", parseNumber),
  redis_auth: once("redisAuth", (value) => value),
  redis_db: once("redisDb", parseNumber),
  preconnect: once("preconnect", parseBool),
  auto_eject_hosts: once("autoEjectHosts", parseBool),
  server_connections: once("serverConnections", parseNumber),
  server_retry_timeout: once("serverRetryTimeout", parseNumber),
  server_failure_limit: once("serverFailureLimit", parseNumber),
  servers: (pool, value) => {
    pool.servers.push(parseServer(value));
    return Promise.resolve();
  },
  // tsproxy's own, for redis pools (checked once the pool is read): Redis Sentinel discovery of each
  // server's master, how often it is polled, static replicas, and where read-only commands go.
  sentinels: (pool, value) => {
    (pool.sentinels ??= []).push(parseSentinel(value));
    return Promise.resolve();
  },
  sentinel_poll_interval: once("sentinelPollInterval", parseNumber),
  replicas: (pool, value) => {
    (pool.replicas ??= []).push(parseReplica(value));
    return Promise.resolve();
  },
  read_from: once("readFrom", oneOf(READ_FROM, "is not a valid read_from")),
};

/**
 * Applies one `key: value` (or one entry of a sequence under `key`) to a pool, as nutcracker's
 * directive table does; a sequence under any key feeds that key once per entry. Throws
 * InvalidValue whose reason completes `conf: directive "<key>" ...`.
 */
export async function applyDirective(pool: PoolDraft, key: string, value: string): Promise<void> {
  const set = Object.hasOwn(DIRECTIVES, key) ? DIRECTIVES[key] : undefined;
  if (set === undefined) throw new InvalidValue("is unknown");
  await set(pool, value);
}
