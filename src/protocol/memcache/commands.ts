/**
 * The memcache commands nutcracker 0.5.0 accepts: their ids (RequestInfo.cmd) and their lookup from
 * the name's bytes.
 */
import { wordIndex, wordTable } from "./ascii.ts";

/** Command ids; the order matches NAMES. */
export const Cmd = {
  Get: 0,
  Gets: 1,
  Set: 2,
  Add: 3,
  Replace: 4,
  Append: 5,
  Prepend: 6,
  Cas: 7,
  Incr: 8,
  Decr: 9,
  Touch: 10,
  Delete: 11,
  Quit: 12,
  Version: 13,
} as const;
export type Cmd = typeof Cmd[keyof typeof Cmd];

const NAMES = wordTable([
  "get",
  "gets",
  "set",
  "add",
  "replace",
  "append",
  "prepend",
  "cas",
  "incr",
  "decr",
  "touch",
  "delete",
  "quit",
  "version",
]);

/** The command named by buf[start, end) (case-sensitive: nutcracker wants lowercase), or -1. */
export function lookupCommand(buf: Uint8Array, start: number, end: number): Cmd | -1 {
  return wordIndex(NAMES, buf, start, end) as Cmd | -1;
}

/** get/gets: any number of keys, the only commands that are split. */
export function isRetrieval(cmd: number): boolean {
  return cmd === Cmd.Get || cmd === Cmd.Gets;
}

/** set/add/replace/append/prepend/cas: a header line then a data block. */
export function isStorage(cmd: number): boolean {
  return cmd >= Cmd.Set && cmd <= Cmd.Cas;
}
