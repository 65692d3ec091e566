/** Programs the tests run (redis-cli, Debian's python with its redis and prometheus modules), bounded in time. */
import assert from "assert";

/** Debian's python with python3-redis (the first python3 on PATH may lack the module). */
export const PYTHON = "/usr/bin/python3";

/**
 * Runs a program to completion, `input` on its stdin (none: stdin closed), killed after `timeoutMs`;
 * returns its stdout, failing on a non-zero exit.
 */
export async function runProgram(
  program: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<string> {
  const stdin = opts.input === undefined ? "null" : "piped";
  const child = new Deno.Command(program, { args, stdin, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs ?? 15_000);
  try {
    if (opts.input !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.input));
      await w.close();
    }
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `${program} exited with ${out.code}: ${stderr}${stdout}`);
    return stdout;
  } finally {
    clearTimeout(timer);
  }
}
