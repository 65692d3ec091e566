/**
 * The YAML subset nutcracker accepts, checked as nutcracker checks it (one document, then allowed
 * tokens, then the pool/directive shape), and the pool and directive items it then reads.
 */
import { ConfigError } from "./error.ts";
import { type Mark, YamlError, YamlErrorKind } from "./yaml_error.ts";
import { readYamlText } from "./yaml_reader.ts";
import { Scanner, TokenType } from "./yaml_scanner.ts";
import { EventType, Parser, type YamlEvent } from "./yaml_parser.ts";

/** What nutcracker's parse pass acts on, in file order. `line` is 1-based. */
export type ConfigItem =
  | { kind: "pool"; name: string; line: number }
  | { kind: "directive"; key: string; value: string; line: number };

/**
 * Token kinds nutcracker refuses, with the words of its message. (Once libyaml has loaded the stream,
 * flow ends, flow entries and aliases can never be the first of them; they are listed for fidelity.)
 */
const DISALLOWED: Partial<Record<TokenType, string>> = {
  [TokenType.VersionDirective]: "version directive",
  [TokenType.TagDirective]: "tag directive",
  [TokenType.DocumentStart]: "document start",
  [TokenType.DocumentEnd]: "document end",
  [TokenType.FlowSequenceStart]: "flow sequence start",
  [TokenType.FlowSequenceEnd]: "flow sequence end",
  [TokenType.FlowMappingStart]: "flow mapping start",
  [TokenType.FlowMappingEnd]: "flow mapping end",
  [TokenType.FlowEntry]: "flow entry",
  [TokenType.Alias]: "alias",
  [TokenType.Anchor]: "anchor",
  [TokenType.Tag]: "tag",
};

/** Pools are mappings at depth 1; their values sit at depth 2, the deepest nutcracker allows. */
const ROOT_DEPTH = 1;
const MAX_DEPTH = 2;

function where(mark: Mark): string {
  return `line ${mark.line + 1}, column ${mark.column + 1}`;
}

/** nutcracker's message for a YAML syntax error, which it reports with libyaml's error number. */
export function yamlSyntaxError(error: YamlError): ConfigError {
  return new ConfigError(
    `conf: failed (err ${error.kind}) to get the next yaml document`,
    `${where(error.mark)}: ${error.problem}`,
  );
}

/**
 * libyaml's loader, reduced to what nutcracker asks of it: the events of the whole stream (any
 * syntax error is fatal) and the number of documents. Anchors are checked per document as libyaml's
 * composer checks them.
 */
function loadDocuments(codePoints: number[]): { events: YamlEvent[]; documents: number } {
  const parser = new Parser(new Scanner(codePoints));
  const events: YamlEvent[] = [];
  let documents = 0;
  let anchors = new Set<string>();
  for (let event = parser.next(); event !== null; event = parser.next()) {
    events.push(event);
    if (event.type === EventType.DocumentStart) {
      documents++;
      anchors = new Set();
    } else if (event.type === EventType.Alias) {
      if (!anchors.has(event.anchor!)) {
        throw new YamlError(YamlErrorKind.Composer, "found undefined alias", event.start);
      }
    } else if (event.anchor !== undefined) {
      if (anchors.has(event.anchor)) {
        throw new YamlError(YamlErrorKind.Composer, "found duplicate anchor", event.start);
      }
      anchors.add(event.anchor);
    }
  }
  return { events, documents };
}

/** nutcracker's token pass: the first token of a refused kind is the error. */
function checkTokens(codePoints: number[]): void {
  const scanner = new Scanner(codePoints);
  for (let token = scanner.scan(); token !== null; token = scanner.scan()) {
    const kind = DISALLOWED[token.type];
    if (kind !== undefined) {
      throw new ConfigError(`conf: ${kind} token (${token.type}) is disallowed`, where(token.start));
    }
  }
}

/**
 * tsproxy's own sequence keys: a pool may have one sequence under each of them besides its one
 * other sequence (nutcracker allows exactly one sequence per pool, which tsproxy keeps for every
 * other key).
 */
const EXTRA_SEQUENCE_KEYS = new Set(["sentinels", "replicas"]);

/**
 * nutcracker's structure pass: a mapping of pools, each a mapping of scalar `key: value`s with
 * exactly one sequence (of scalars) in it, plus (tsproxy) at most one under each EXTRA_SEQUENCE_KEYS.
 */
function checkStructure(events: YamlEvent[], file: string): void {
  const count = [0, 0, 0];
  let depth = 0;
  let seq = false;
  // The pool's sequence keys so far ("" stands for nutcracker's one sequence), and the last scalar.
  const seqKeys = new Set<string>();
  let lastScalar = "";
  const fail = (message: string, event: YamlEvent): never => {
    throw new ConfigError(`conf: '${file}' ${message}`, where(event.start));
  };
  for (const event of events) {
    switch (event.type) {
      case EventType.MappingStart:
        if (depth === ROOT_DEPTH && count[depth] !== 1) {
          fail(`has more than one "key:value" at depth ${depth}`, event);
        }
        if (depth >= MAX_DEPTH) fail(`has a depth greater than ${MAX_DEPTH}`, event);
        depth++;
        break;
      case EventType.MappingEnd:
        if (depth === MAX_DEPTH) {
          if (!seq) fail(`missing sequence directive at depth ${depth}`, event);
          seq = false;
          seqKeys.clear();
        }
        depth--;
        count[depth] = 0;
        break;
      case EventType.SequenceStart: {
        // A well-placed sequence's key is the scalar just before it (checked below as nutcracker does).
        const keyed = depth === MAX_DEPTH && count[depth] === 1;
        const key = keyed && EXTRA_SEQUENCE_KEYS.has(lastScalar) ? lastScalar : "";
        if (seqKeys.has(key)) fail("has more than one sequence directive", event);
        seqKeys.add(key);
        if (depth !== MAX_DEPTH) fail(`has sequence at depth ${depth} instead of ${MAX_DEPTH}`, event);
        if (count[depth] !== 1) fail(`has invalid "key:value" at depth ${depth}`, event);
        seq = true;
        break;
      }
      case EventType.SequenceEnd:
        count[depth] = 0;
        break;
      case EventType.Scalar:
        if (depth === 0) fail(`has invalid empty "key:" at depth ${depth}`, event);
        if (depth === ROOT_DEPTH && count[depth] !== 0) {
          fail(`has invalid mapping "key:" at depth ${depth}`, event);
        }
        // A `key: value` pair is complete: start counting the next one.
        if (depth === MAX_DEPTH && count[depth] === 2) count[depth] = 0;
        count[depth]++;
        lastScalar = event.value!;
        break;
    }
  }
}

/** nutcracker's parse pass over structurally valid events: pool names and their directives. */
function collectItems(events: YamlEvent[]): ConfigItem[] {
  const items: ConfigItem[] = [];
  // Scalars seen on the way down: pool name, key, value (a sequence keeps its key while it lasts).
  const args: { text: string; line: number }[] = [];
  let depth = ROOT_DEPTH;
  let seq = false;
  // Skip STREAM-START, DOCUMENT-START and the root MAPPING-START.
  for (const event of events.slice(3)) {
    switch (event.type) {
      case EventType.MappingEnd:
        depth--;
        if (depth === 0) return items;
        args.pop();
        break;
      case EventType.MappingStart:
        depth++;
        break;
      case EventType.SequenceStart:
        seq = true;
        break;
      case EventType.SequenceEnd:
        args.pop();
        seq = false;
        break;
      case EventType.Scalar: {
        // An empty scalar is marked where the next token starts: report a pair at its key's line.
        args.push({ text: event.value!, line: event.start.line + 1 });
        if (seq || (depth !== ROOT_DEPTH && args.length === depth + 1)) {
          const [key, value] = args.slice(-2);
          items.push({
            kind: "directive",
            key: key.text,
            value: value.text,
            line: seq ? value.line : key.line,
          });
          args.pop();
          if (!seq) args.pop();
        } else if (depth === ROOT_DEPTH) {
          items.push({ kind: "pool", name: event.value!, line: event.start.line + 1 });
        }
        break;
      }
    }
  }
  return items;
}

/**
 * Checks a configuration text as nutcracker does before reading it, and returns its pools and
 * directives in file order. Throws ConfigError with nutcracker's message for the first problem.
 */
export function readConfigItems(text: string, file: string): ConfigItem[] {
  let codePoints: number[];
  let loaded: { events: YamlEvent[]; documents: number };
  try {
    codePoints = readYamlText(text);
    loaded = loadDocuments(codePoints);
  } catch (e) {
    throw e instanceof YamlError ? yamlSyntaxError(e) : e;
  }
  if (loaded.documents !== 1) {
    throw new ConfigError(
      `conf: '${file}' must contain only 1 document; found ${loaded.documents} documents`,
    );
  }
  checkTokens(codePoints);
  checkStructure(loaded.events, file);
  return collectItems(loaded.events);
}
