/** nutcracker's cap on client connections from the process's file descriptor limit. */
import type { PoolConfig } from "../config/types.ts";

/** The soft RLIMIT_NOFILE, read from /proc (Linux); Infinity where it cannot be read. */
export function openFileLimit(): number {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n").find((l) =>
      l.startsWith("Max open files")
    );
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

/**
 * How many clients all pools together may hold: the fd limit minus every pool's server connections
 * and listener, minus 32 spare, as nutcracker computes it. Clients beyond it are closed at once.
 */
export function maxClients(pools: readonly PoolConfig[], fdLimit = openFileLimit()): number {
  const reserved = pools.reduce((n, p) => n + p.serverConnections * p.servers.length + 1, 0);
  return Math.max(0, fdLimit - reserved - 32);
}
