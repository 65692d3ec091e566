/** Test support: tests that need external binaries. */
import { hasBinary } from "../../harness/procs.ts";

/**
 * Options for a Deno.test that needs the given binaries: ignored (with a note on stderr) when one is
 * missing on a developer machine, never under CI=true, where the test then runs and fails.
 */
export function needs(...binaries: string[]): { ignore: boolean } {
  const missing = binaries.filter((b) => !hasBinary(b));
  if (missing.length === 0 || Deno.env.get("CI") === "true") return { ignore: false };
  console.error(`skipping: ${missing.join(", ")} not installed (CI=true makes this a failure)`);
  return { ignore: true };
}
