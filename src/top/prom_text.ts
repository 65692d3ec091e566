/**
 * Prometheus text exposition format 0.0.4, parsed strictly into metric families: a line the format does
 * not allow is an error naming its line, so a change in what the admin endpoint serves shows up at once
 * rather than as a quietly wrong number.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

/** One sample line: its own name (`x_bucket` for a histogram `x`), its labels unescaped, its value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: its `# TYPE` (untyped without one), its `# HELP` and its samples in text order. */
export interface Family {
  readonly name: string;
  type: MetricType;
  help: string;
  readonly samples: Sample[];
}

/** Families by name, in the order they first appeared. */
export type Families = ReadonlyMap<string, Family>;

/** A line the format does not allow; `line` counts from 1. */
export class PromParseError extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = "PromParseError";
  }
}

const TYPES: readonly MetricType[] = ["counter", "gauge", "histogram", "summary", "untyped"];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const TIMESTAMP = /^-?\d+$/;
/** Sample names a family of each type may have besides its own name, which only summaries and plain types use. */
const SUFFIXES: Partial<Record<MetricType, readonly string[]>> = {
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["_sum", "_count"],
};

/** Parses a whole exposition; throws PromParseError at the first line the format does not allow. */
export function parsePromText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const typed = new Set<string>();
  const helped = new Set<string>();
  const seen = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i].replace(/^[ \t]+/, "");
    if (line === "") continue;
    if (line.startsWith("#")) {
      parseComment(line, n, families, typed, helped);
      continue;
    }
    const sample = parseSample(line, n);
    const family = familyOf(sample.name, families);
    checkSample(sample, family, n);
    const key = sample.name + JSON.stringify(Object.entries(sample.labels).sort());
    if (seen.has(key)) throw new PromParseError(n, `duplicate sample ${sample.name}${labelText(sample)}`);
    seen.add(key);
    family.samples.push(sample);
  }
  return families;
}

function parseComment(
  line: string,
  n: number,
  families: Map<string, Family>,
  typed: Set<string>,
  helped: Set<string>,
): void {
  const m = /^#[ \t]+(HELP|TYPE)(?:[ \t]+(.*))?$/.exec(line);
  if (!m) return; // any other comment
  const [, keyword, rest = ""] = m;
  const name = METRIC_NAME.exec(rest)?.[0];
  if (!name || (rest.length > name.length && !/^[ \t]/.test(rest.slice(name.length)))) {
    throw new PromParseError(n, `${keyword} without a valid metric name`);
  }
  const arg = rest.slice(name.length).replace(/^[ \t]+/, "");
  const family = families.get(name) ?? newFamily(name, families);
  if (keyword === "HELP") {
    if (helped.has(name)) throw new PromParseError(n, `second HELP for ${name}`);
    helped.add(name);
    family.help = unescape(arg, n, false);
    return;
  }
  if (typed.has(name)) throw new PromParseError(n, `second TYPE for ${name}`);
  if (family.samples.length > 0) throw new PromParseError(n, `TYPE for ${name} after its samples`);
  if (!(TYPES as readonly string[]).includes(arg)) {
    throw new PromParseError(n, `unknown type ${JSON.stringify(arg)} for ${name}`);
  }
  typed.add(name);
  family.type = arg as MetricType;
}

function newFamily(name: string, families: Map<string, Family>): Family {
  const family: Family = { name, type: "untyped", help: "", samples: [] };
  families.set(name, family);
  return family;
}

/** The family a sample name belongs to: a histogram or summary its suffix names, else its own. */
function familyOf(sampleName: string, families: Map<string, Family>): Family {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = families.get(sampleName.slice(0, -suffix.length));
    if (base && SUFFIXES[base.type]?.includes(suffix)) return base;
  }
  return families.get(sampleName) ?? newFamily(sampleName, families);
}

/** What a family's type requires of its samples: a histogram's buckets carry a numeric `le`, and so on. */
function checkSample(sample: Sample, family: Family, n: number): void {
  const suffix = sample.name.slice(family.name.length);
  if (family.type === "histogram") {
    if (suffix === "") throw new PromParseError(n, `histogram ${family.name} has a sample without a suffix`);
    if (suffix === "_bucket") checkBound(sample, "le", n);
  }
  if (family.type === "summary" && suffix === "") checkBound(sample, "quantile", n);
}

function checkBound(sample: Sample, label: string, n: number): void {
  const value = sample.labels[label];
  if (value === undefined) throw new PromParseError(n, `${sample.name} without a ${label} label`);
  if (Number.isNaN(parseValue(value))) {
    throw new PromParseError(n, `${sample.name} has ${label}=${JSON.stringify(value)}, not a number`);
  }
}

/** `name{labels} value [timestamp]`, blanks allowed around the label punctuation as the format allows. */
function parseSample(line: string, n: number): Sample {
  const name = METRIC_NAME.exec(line)?.[0];
  if (!name) throw new PromParseError(n, `expected a metric name at ${JSON.stringify(line.slice(0, 20))}`);
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[skipBlanks(line, pos)] === "{") {
    pos = skipBlanks(line, skipBlanks(line, pos) + 1);
    while (line[pos] !== "}") {
      const label = LABEL_NAME.exec(line.slice(pos))?.[0];
      if (!label) throw new PromParseError(n, `expected a label name or '}' after ${name}{`);
      if (label in labels) throw new PromParseError(n, `label ${label} twice in ${name}`);
      pos = skipBlanks(line, pos + label.length);
      if (line[pos] !== "=") throw new PromParseError(n, `expected '=' after label ${label}`);
      pos = skipBlanks(line, pos + 1);
      if (line[pos] !== '"') throw new PromParseError(n, `expected '"' to open the value of label ${label}`);
      const end = closingQuote(line, pos + 1);
      if (end < 0) throw new PromParseError(n, `unterminated value of label ${label}`);
      labels[label] = unescape(line.slice(pos + 1, end), n, true);
      pos = skipBlanks(line, end + 1);
      if (line[pos] === ",") pos = skipBlanks(line, pos + 1);
      else if (line[pos] !== "}") throw new PromParseError(n, `expected ',' or '}' after label ${label}`);
    }
    pos++;
  }
  const rest = line.slice(pos);
  if (!/^[ \t]/.test(rest)) throw new PromParseError(n, `expected a blank and a value after ${name}`);
  const fields = rest.replace(/^[ \t]+|[ \t]+$/g, "").split(/[ \t]+/);
  if (fields.length > 2) {
    throw new PromParseError(n, `unexpected ${JSON.stringify(fields[2])} after the value`);
  }
  const value = parseValue(fields[0]);
  if (Number.isNaN(value) && fields[0] !== "NaN") {
    throw new PromParseError(n, `invalid value ${JSON.stringify(fields[0])} for ${name}`);
  }
  if (fields.length === 2 && !TIMESTAMP.test(fields[1])) {
    throw new PromParseError(n, `invalid timestamp ${JSON.stringify(fields[1])} for ${name}`);
  }
  return { name, labels, value };
}

function skipBlanks(line: string, pos: number): number {
  while (line[pos] === " " || line[pos] === "\t") pos++;
  return pos;
}

/** Index of the `"` closing a label value that starts at `from`, past escaped characters; -1 if none. */
function closingQuote(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    if (line[i] === "\\") i++;
    else if (line[i] === '"') return i;
  }
  return -1;
}

/** The format's escapes: `\\` and `\n`, plus `\"` in label values; any other is an error. */
function unescape(text: string, n: number, quotes: boolean): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && quotes) return '"';
    throw new PromParseError(n, `invalid escape \\${c} in ${quotes ? "a label value" : "HELP"}`);
  });
}

/** A sample value or bound: a float, `+Inf`, `-Inf` or `NaN`; anything else is NaN. */
export function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return FLOAT.test(text) ? Number(text) : NaN;
}

function labelText(sample: Sample): string {
  const parts = Object.entries(sample.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? `{${parts.join(",")}}` : "";
}
