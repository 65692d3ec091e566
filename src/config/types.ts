/** The validated configuration the rest of the proxy works from. */

/** The 12 hash functions nutcracker 0.5.0 knows, by their YAML names. */
export const HASH_NAMES = [
  "one_at_a_time",
  "md5",
  "crc16",
  "crc32",
  "crc32a",
  "fnv1_64",
  "fnv1a_64",
  "fnv1_32",
  "fnv1a_32",
  "hsieh",
  "murmur",
  "jenkins",
] as const;
export type HashName = typeof HASH_NAMES[number];

export const DISTRIBUTIONS = ["ketama", "modula", "random"] as const;
export type Distribution = typeof DISTRIBUTIONS[number];

/** Where a redis pool's reads go (tsproxy's `read_from`): the master, a replica if any is up, a replica only. */
export const READ_FROM = ["master", "prefer-replica", "replica"] as const;
export type ReadFrom = typeof READ_FROM[number];

/** Where a pool listens: a TCP address or a unix socket path. */
export type ListenConfig =
  | { kind: "tcp"; raw: string; host: string; port: number; address: string }
  | { kind: "unix"; raw: string; path: string; perm: number };

/** One backend server of a pool. */
export interface ServerConfig {
  /** The entry as written in YAML, e.g. `127.0.0.1:11211:1 name`. */
  raw: string;
  /** Identity for ketama points, stats and duplicate checks (nutcracker's naming rules). */
  name: string;
  kind: "tcp" | "unix";
  /** TCP host name or address, resolved lazily at connect time; empty for unix sockets. */
  host: string;
  /** TCP port; 0 for unix sockets. */
  port: number;
  /** Unix socket path; empty for TCP. */
  path: string;
  weight: number;
}

/** One Redis Sentinel of a pool (`sentinels:` entry `host:port:weight [name]`; weight and name unused). */
export interface SentinelConfig {
  /** The entry as written in YAML, e.g. `127.0.0.1:26379:1`. */
  raw: string;
  /** TCP host name or address, resolved lazily at connect time. */
  host: string;
  port: number;
}

/** One pool: every directive of nutcracker 0.5.0 with its default applied. */
export interface PoolConfig {
  name: string;
  listen: ListenConfig;
  hash: HashName;
  /** Exactly 2 bytes, or null when the pool has no hash_tag. */
  hashTag: Uint8Array | null;
  distribution: Distribution;
  /** Server timeout in ms; 0 or negative means none. */
  timeout: number;
  backlog: number;
  /** Maximum client connections of the pool; 0 means unlimited. */
  clientConnections: number;
  redis: boolean;
  redisAuth: string | null;
  redisDb: number;
  preconnect: boolean;
  tcpkeepalive: boolean;
  /** SO_REUSEPORT on the listener (later twemproxy's key; unknown to 0.5.0). */
  reuseport: boolean;
  /** Bytes of replies a client has not read that the proxy holds before closing it (0: no limit). */
  clientOutputLimit: number;
  /** Bytes of a request still arriving (not forwarded yet) the proxy holds before closing its client (0: no limit). */
  clientInputLimit: number;
  /** Server connections a redis pool pins to clients at once (transactions, pub/sub, blocking commands). */
  pinnedConnections: number;
  serverConnections: number;
  autoEjectHosts: boolean;
  serverRetryTimeout: number;
  serverFailureLimit: number;
  /** Sorted as nutcracker sorts them (name length, then bytes): the index is the server's identity. */
  servers: ServerConfig[];
  /**
   * tsproxy's own (redis pools): the sentinels asked for each server's current master address, in
   * file order; empty when the pool has none. With sentinels, every server's name is its sentinel
   * master name.
   */
  sentinels: SentinelConfig[];
  /** How often (ms, > 0) the sentinels are asked again; DEFAULT_SENTINEL_POLL_INTERVAL when unset. */
  sentinelPollInterval: number;
  /** Where read-only commands go (`read_from`): "master" unless set; another value needs sentinels or replicas. */
  readFrom: ReadFrom;
  /**
   * tsproxy's own (redis pools without sentinels): static replicas in file order. `name` is the
   * name of the server (master) each one replicates; the weight is unused. Empty when none.
   */
  replicas: ServerConfig[];
}

/** A whole configuration file: pools sorted as nutcracker sorts them. */
export interface Config {
  file: string;
  pools: PoolConfig[];
}
