/** The 12 key hash functions of nutcracker 0.5.0, by their configuration names. */
import type { HashName } from "../../config/types.ts";
import { crc16 } from "./crc16.ts";
import { crc32, crc32a } from "./crc32.ts";
import { fnv1_32, fnv1_64, fnv1a_32, fnv1a_64 } from "./fnv.ts";
import { hsieh } from "./hsieh.ts";
import { jenkins } from "./jenkins.ts";
import { md5 } from "./md5.ts";
import { murmur } from "./murmur.ts";
import { oneAtATime } from "./one_at_a_time.ts";

/** A key hash over buf[start, end): an unsigned 32-bit value, bit-exact with nutcracker. */
export type HashFn = (buf: Uint8Array, start: number, end: number) => number;

const HASHES: Record<HashName, HashFn> = {
  one_at_a_time: oneAtATime,
  md5,
  crc16,
  crc32,
  crc32a,
  fnv1_64,
  fnv1a_64,
  fnv1_32,
  fnv1a_32,
  hsieh,
  murmur,
  jenkins,
};

/** The hash function a pool's `hash:` directive names. */
export function hashFunction(name: HashName): HashFn {
  return HASHES[name];
}
