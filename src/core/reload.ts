/**
 * Applying a new configuration to a running proxy: pools kept (same name, listen address and
 * protocol) keep their listener, clients and the server connections of servers that stay; routing
 * changes apply at once per pool; new pools listen; removed (or replaced) pools stop accepting and
 * are drained in the background.
 */
import type { Config, PoolConfig } from "../config/types.ts";
import { drainPools } from "./drain.ts";
import { Pool, type PoolUpdate } from "./pool.ts";
import type { ProtocolFor, Proxy } from "./proxy.ts";

/** What a reload changed (servers as `pool/name`), for its log line and its answer. */
export interface ReloadChanges {
  poolsAdded: string[];
  poolsRemoved: string[];
  /** Same name, another listen address or protocol: a new pool in its place. */
  poolsReplaced: string[];
  /** Kept, with other directives or servers. */
  poolsChanged: string[];
  serversAdded: string[];
  serversRemoved: string[];
  /** Kept, with a new weight or name. */
  serversChanged: string[];
}

/** How a reload is applied. */
export interface ReloadOptions {
  protocolFor: ProtocolFor;
  /** Starts what keeps a new pool's servers current (Sentinel); resolves once it may serve. */
  watchPool: (pool: Pool) => Promise<void>;
  /** Keep metrics in new pools. */
  metrics: boolean;
  /** How long clients of removed pools have to be answered. */
  drainMs: number;
}

/** Whether a pool can be kept: same listen address and protocol. */
function keeps(old: PoolConfig, next: PoolConfig): boolean {
  return old.listen.raw === next.listen.raw && old.redis === next.redis;
}

/** The pool's directives, without its servers, in a comparable form. */
function directives(pc: PoolConfig): string {
  return JSON.stringify({ ...pc, servers: null, hashTag: pc.hashTag === null ? null : [...pc.hashTag] });
}

/** One line: what changed, or that nothing did. */
export function describeChanges(c: ReloadChanges): string {
  const parts: string[] = [];
  const list = (what: string, names: string[]) => {
    if (names.length > 0) parts.push(`${what} ${names.join(", ")}`);
  };
  list("pools added:", c.poolsAdded);
  list("pools removed:", c.poolsRemoved);
  list("pools replaced:", c.poolsReplaced);
  list("pools changed:", c.poolsChanged);
  list("servers added:", c.serversAdded);
  list("servers removed:", c.serversRemoved);
  list("servers changed:", c.serversChanged);
  return parts.length === 0 ? "nothing changed" : parts.join("; ");
}

/**
 * Applies `next` to `proxy`. Throws, with nothing changed, when a new pool's listener cannot bind;
 * otherwise every change takes effect in one go (between two requests) and removed pools drain
 * afterwards.
 */
export async function reloadProxy(proxy: Proxy, next: Config, opts: ReloadOptions): Promise<ReloadChanges> {
  const current = new Map(proxy.pools.map((p) => [p.config.name, p]));
  const changes: ReloadChanges = {
    poolsAdded: [],
    poolsRemoved: [],
    poolsReplaced: [],
    poolsChanged: [],
    serversAdded: [],
    serversRemoved: [],
    serversChanged: [],
  };
  const updates = new Map<Pool, PoolUpdate>();
  const fresh: Pool[] = [];
  const order: Pool[] = [];
  for (const pc of next.pools) {
    const old = current.get(pc.name);
    current.delete(pc.name);
    const protocol = opts.protocolFor(pc, proxy.mbufSize);
    if (old !== undefined && keeps(old.config, pc)) {
      const update = await old.prepare(pc, protocol);
      updates.set(old, update);
      order.push(old);
      const named = (servers: { config: { name: string } }[]) =>
        servers.map((s) => `${pc.name}/${s.config.name}`);
      changes.serversAdded.push(...named(update.added));
      changes.serversRemoved.push(...named(update.removed));
      changes.serversChanged.push(
        ...update.changed.map((s) => `${pc.name}/${pc.servers[update.servers.indexOf(s)].name}`),
      );
      const serversMoved = update.added.length + update.removed.length + update.changed.length > 0;
      if (serversMoved || directives(old.config) !== directives(pc)) changes.poolsChanged.push(pc.name);
      continue;
    }
    const pool = new Pool(pc, protocol, proxy.mbufSize, opts.metrics);
    await pool.resolveHosts();
    await opts.watchPool(pool);
    fresh.push(pool);
    order.push(pool);
    (old === undefined ? changes.poolsAdded : changes.poolsReplaced).push(pc.name);
  }
  changes.poolsRemoved.push(...current.keys());
  const leaving = proxy.pools.filter((p) => !order.includes(p));

  // A new pool on an address a leaving pool still holds binds once that one is closed; the others
  // bind first, so that a taken address fails the reload before anything changes.
  const held = new Set(leaving.map((p) => p.config.listen.raw));
  const late = fresh.filter((p) => held.has(p.config.listen.raw));
  let bound: Map<Pool, Deno.Listener>;
  try {
    bound = proxy.bind(fresh.filter((p) => !late.includes(p)));
  } catch (err) {
    for (const p of fresh) p.watch?.stop();
    throw err;
  }

  // Until everything is in place the old configuration serves: the pools leaving keep their
  // clients, and a kept pool changes only below, between two requests.
  await proxy.close(leaving);
  try {
    for (const [pool, listener] of proxy.bind(late)) bound.set(pool, listener);
  } catch (err) {
    // The address was taken meanwhile: the leaving pools listen again, and nothing changed.
    for (const l of bound.values()) l.close();
    proxy.serve(proxy.bind(leaving));
    for (const p of fresh) p.watch?.stop();
    throw err;
  }
  for (const [pool, update] of updates) pool.apply(update);
  proxy.pools = order;
  proxy.serve(bound);
  if (leaving.length > 0) {
    const names = leaving.map((p) => p.config.name).join(", ");
    drainPools(leaving, opts.drainMs, `drain of pools left by the reload (${names})`).then(() => {
      for (const p of leaving) p.retire();
    });
  }
  return changes;
}
