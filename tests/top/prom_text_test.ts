import assert from "assert";
import { parsePromText, PromParseError } from "../../src/top/prom_text.ts";

/** The error a text is refused with. */
function refusal(text: string): PromParseError {
  try {
    parsePromText(text);
  } catch (e) {
    assert.ok(e instanceof PromParseError, String(e));
    return e;
  }
  assert.fail(`accepted: ${JSON.stringify(text)}`);
}

Deno.test("samples are grouped under their family with its TYPE and HELP, labels and values as numbers", () => {
  const families = parsePromText(
    "# HELP tsproxy_server_requests_total Requests forwarded to the server.\n" +
      "# TYPE tsproxy_server_requests_total counter\n" +
      'tsproxy_server_requests_total{pool="alpha",server="127.0.0.1:11211:1"} 12\n' +
      'tsproxy_server_requests_total{pool="beta",server="10.0.0.1:6379:1"} 3.5e2\n' +
      "# TYPE tsproxy_connections gauge\n" +
      "tsproxy_connections 7\n",
  );
  assert.deepEqual([...families.keys()], ["tsproxy_server_requests_total", "tsproxy_connections"]);
  assert.deepEqual(families.get("tsproxy_server_requests_total"), {
    name: "tsproxy_server_requests_total",
    type: "counter",
    help: "Requests forwarded to the server.",
    samples: [
      {
        name: "tsproxy_server_requests_total",
        labels: { pool: "alpha", server: "127.0.0.1:11211:1" },
        value: 12,
      },
      {
        name: "tsproxy_server_requests_total",
        labels: { pool: "beta", server: "10.0.0.1:6379:1" },
        value: 350,
      },
    ],
  });
  assert.deepEqual(families.get("tsproxy_connections")?.samples, [
    { name: "tsproxy_connections", labels: {}, value: 7 },
  ]);
});

Deno.test("a histogram keeps its buckets' le, its _sum and _count, and the labels of each", () => {
  const families = parsePromText(
    "# TYPE tsproxy_request_duration_seconds histogram\n" +
      'tsproxy_request_duration_seconds_bucket{pool="alpha",le="0.00001"} 0\n' +
      'tsproxy_request_duration_seconds_bucket{pool="alpha",le="+Inf"} 12\n' +
      'tsproxy_request_duration_seconds_sum{pool="alpha"} 0.0123\n' +
      'tsproxy_request_duration_seconds_count{pool="alpha"} 12\n',
  );
  assert.deepEqual([...families.keys()], ["tsproxy_request_duration_seconds"]);
  const family = families.get("tsproxy_request_duration_seconds")!;
  assert.equal(family.type, "histogram");
  assert.deepEqual(family.samples.map((s) => [s.name.slice(32), s.labels, s.value]), [
    ["_bucket", { pool: "alpha", le: "0.00001" }, 0],
    ["_bucket", { pool: "alpha", le: "+Inf" }, 12],
    ["_sum", { pool: "alpha" }, 0.0123],
    ["_count", { pool: "alpha" }, 12],
  ]);
});

Deno.test('label values and HELP are unescaped: \\\\, \\" and \\n', () => {
  const families = parsePromText(
    "# HELP x A \\\\ backslash\\nand a newline.\n" +
      'x{pool="a\\\\b",server="say \\"hi\\"\\nbye"} 1\n',
  );
  const x = families.get("x")!;
  assert.equal(x.help, "A \\ backslash\nand a newline.");
  assert.deepEqual(x.samples[0].labels, { pool: "a\\b", server: 'say "hi"\nbye' });
});

Deno.test("a ',' or '}' inside a quoted label value is part of the value", () => {
  const [sample] = parsePromText('x{a="1,2}",b="}"} 3\n').get("x")!.samples;
  assert.deepEqual(sample.labels, { a: "1,2}", b: "}" });
});

Deno.test("what the format allows is accepted: blanks around labels, a trailing comma, timestamps, Inf and NaN", () => {
  const families = parsePromText(
    "  # a comment that is neither HELP nor TYPE\n" +
      "\n" +
      'a { pool = "p" , } -Inf 1700000000000\n' +
      "b\t+Inf\n" +
      "c NaN\n" +
      "d{} .5\n",
  );
  const values = [...families.values()].map((f) => f.samples[0].value);
  assert.deepEqual(values.slice(0, 3), [-Infinity, Infinity, NaN]);
  assert.equal(values[3], 0.5);
  assert.deepEqual(families.get("a")!.samples[0].labels, { pool: "p" });
  assert.equal(families.get("a")!.type, "untyped");
});

Deno.test("process_* samples with an extra process label stay apart", () => {
  const families = parsePromText(
    "# TYPE process_resident_memory_bytes gauge\n" +
      'process_resident_memory_bytes{process="0"} 100\n' +
      'process_resident_memory_bytes{process="1"} 200\n',
  );
  assert.deepEqual(families.get("process_resident_memory_bytes")!.samples.map((s) => s.value), [100, 200]);
});

Deno.test("malformed lines are refused with their line number and what is wrong", () => {
  const cases: [string, string][] = [
    ["ok 1\n9bad 1\n", "line 2: expected a metric name"],
    ['x{pool="a"\n', "line 1: expected ',' or '}' after label pool"],
    ['x{pool="a} 1\n', "line 1: unterminated value of label pool"],
    ["x{pool=a} 1\n", `line 1: expected '"' to open the value of label pool`],
    ['x{pool"a"} 1\n', "line 1: expected '=' after label pool"],
    ['x{1pool="a"} 1\n', "line 1: expected a label name or '}'"],
    ['x{pool="a",pool="b"} 1\n', "line 1: label pool twice in x"],
    ['x{pool="a\\t"} 1\n', "line 1: invalid escape \\t in a label value"],
    ["# HELP x bad \\q\n", "line 1: invalid escape \\q in HELP"],
    ["x\n", "line 1: expected a blank and a value after x"],
    ["x 1O\n", 'line 1: invalid value "1O" for x'],
    ["x 1\r\n", 'line 1: invalid value "1\\r" for x'],
    ["x 1 12.5\n", 'line 1: invalid timestamp "12.5" for x'],
    ["x 1 2 3\n", 'line 1: unexpected "3" after the value'],
    ["x 1\nx 2\n", "line 2: duplicate sample x"],
    ["# TYPE x countr\n", 'line 1: unknown type "countr" for x'],
    ["# TYPE x counter\n# TYPE x gauge\n", "line 2: second TYPE for x"],
    ["# HELP x a\n# HELP x b\n", "line 2: second HELP for x"],
    ["x 1\n# TYPE x counter\n", "line 2: TYPE for x after its samples"],
    ["# TYPE\n", "line 1: TYPE without a valid metric name"],
    ["# TYPE h histogram\nh_bucket 1\n", "line 2: h_bucket without a le label"],
    ['# TYPE h histogram\nh_bucket{le="fast"} 1\n', 'line 2: h_bucket has le="fast", not a number'],
    ["# TYPE h histogram\nh 1\n", "line 2: histogram h has a sample without a suffix"],
    ["# TYPE s summary\ns 1\n", "line 2: s without a quantile label"],
  ];
  for (const [text, message] of cases) {
    const e = refusal(text);
    assert.ok(e.message.startsWith(message), `${JSON.stringify(text)}: ${e.message}`);
  }
});

Deno.test("an empty text has no families", () => {
  assert.equal(parsePromText("").size, 0);
});
