/** Picks a pool's protocol implementation. */
import type { PoolConfig } from "../config/types.ts";
import { memcache } from "./memcache/index.ts";
import { redis } from "./redis/index.ts";
import type { Protocol } from "./types.ts";

/** The protocol a pool speaks (`redis: true` or memcache ASCII), set up with the pool's options. */
export function protocolFor(pool: PoolConfig, mbufSize: number): Protocol {
  return pool.redis ? redis({ mbufSize, redisAuth: pool.redisAuth, redisDb: pool.redisDb }) : memcache();
}
