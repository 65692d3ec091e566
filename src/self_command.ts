/** How tsproxy starts another copy of itself (a daemon for -d, the workers for --workers). */

/**
 * Arguments for `Deno.execPath()` that run tsproxy with `flags`: a `deno compile`d tsproxy is its
 * own executable; otherwise deno runs the entry module, with the unstable net API SO_REUSEPORT needs.
 */
export function selfArgs(flags: string[]): string[] {
  if (!/(^|\/)deno$/.test(Deno.execPath())) return flags;
  return ["run", "-A", "--unstable-net", new URL("./main.ts", import.meta.url).pathname, ...flags];
}
