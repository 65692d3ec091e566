/**
 * Test support: parses a Prometheus text exposition with the reference parser, the official
 * Python client's (Debian's python3-prometheus-client), so tsproxy's output is checked by code
 * it did not write.
 */

import { PYTHON } from "./programs.ts";

/** One sample of a family. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family: its name (without _total for counters, as the parser reports it), type and samples. */
export interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

const SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;

/** Whether the reference parser can run here. */
export function hasPromParser(): boolean {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import prometheus_client.parser"], stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Options for a Deno.test that needs the parser: skipped with a note, but never under CI=true. */
export function needsPromParser(): { ignore: boolean } {
  if (hasPromParser() || Deno.env.get("CI") === "true") return { ignore: false };
  console.error("skipping: python3-prometheus-client not installed (CI=true makes this a failure)");
  return { ignore: true };
}

/** Parses `text`; throws the parser's complaint when the exposition is malformed. */
export async function parseExposition(text: string): Promise<Family[]> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`exposition refused: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The value of the sample `name` with exactly `labels` (0 when absent: a counter not yet seen). */
export function valueOf(families: Family[], name: string, labels: Record<string, string> = {}): number {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) {
        return s.value;
      }
    }
  }
  return 0;
}
