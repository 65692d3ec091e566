import assert from "assert";

const ROOT = new URL("..", import.meta.url).pathname;

/** Deno compile needs its runtime (denort) from Deno's download host; machines without it cannot compile. */
function runtimeUnavailable(stderr: string): boolean {
  return /Failed downloading|dns error|failed to lookup address|error sending request/i.test(stderr);
}

Deno.test("deno task compile builds a tsproxy binary that answers -V like nutcracker", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "tsproxy-compile-" });
  try {
    // The task's own arguments, only the output moved, so the task stays right for users who can
    // download denort.
    const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks.compile;
    const args = task.split(" ").slice(1);
    assert.equal(args[0], "compile");
    args[args.indexOf("--output") + 1] = `${dir}/tsproxy`;
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdin: "null",
      signal: AbortSignal.timeout(240000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    if (!out.success && runtimeUnavailable(stderr)) {
      console.error("skipped: deno compile cannot download its runtime (denort) on this machine");
      return;
    }
    assert.ok(out.success, stderr);
    const v = await new Deno.Command(`${dir}/tsproxy`, { args: ["-V"], stdin: "null" }).output();
    assert.equal(
      new TextDecoder().decode(v.stderr),
      "This is nutcracker-0.5.0\nasync event backend: epoll\n\n",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
