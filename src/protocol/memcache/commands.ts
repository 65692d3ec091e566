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

const NAME_LIST = [
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
];
const NAMES = wordTable(NAME_LIST);

/** Every command's name, by Cmd id. */
export const COMMAND_NAMES: readonly string[] = NAME_LIST;

/** A command's name, for log lines. */
export function commandName(cmd: number): string {
  return NAME_LIST[cmd] ?? "?";
}

/** nutcracker 0.5.0's message type of each command (by Cmd id), as its log lines print it. */
const NC_TYPES = [1, 2, 5, 6, 7, 8, 9, 4, 10, 11, 12, 3, 13, 14];

/** The command's message type number in nutcracker's log lines. */
export function ncType(cmd: number): number {
  return NC_TYPES[cmd] ?? 0;
}

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
