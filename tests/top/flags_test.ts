import assert from "assert";
import { type FlagsResult, parseFlags } from "../../src/top/flags.ts";

function refusal(args: string[]): string {
  const result = parseFlags(args);
  assert.equal(result.kind, "error", JSON.stringify(result));
  return (result as { message: string }).message;
}

Deno.test("no flags read 127.0.0.1:22223 every second", () => {
  assert.deepEqual(
    parseFlags([]),
    {
      kind: "run",
      options: {
        address: "127.0.0.1:22223",
        url: "http://127.0.0.1:22223/metrics",
        intervalSeconds: 1,
        once: false,
      },
    } satisfies FlagsResult,
  );
});

Deno.test("--admin, --interval and --once are taken with '=' or as the next argument", () => {
  assert.deepEqual(parseFlags(["--admin=localhost:9000", "--interval", "0.5", "--once"]), {
    kind: "run",
    options: {
      address: "localhost:9000",
      url: "http://localhost:9000/metrics",
      intervalSeconds: 0.5,
      once: true,
    },
  });
});

Deno.test("an IPv6 admin address is given in brackets and kept in them in the URL", () => {
  const result = parseFlags(["--admin=[::1]:22223"]);
  assert.equal(result.kind === "run" && result.options.url, "http://[::1]:22223/metrics");
});

Deno.test("-h and --help ask for the usage", () => {
  assert.deepEqual(parseFlags(["-h"]), { kind: "help" });
  assert.deepEqual(parseFlags(["--admin=x:1", "--help"]), { kind: "help" });
});

Deno.test("a bad address, interval, unknown flag or argument is refused with a message naming it", () => {
  assert.match(refusal(["--admin=22223"]), /--admin wants HOST:PORT, got "22223"/);
  assert.match(refusal(["--admin=host:0"]), /--admin wants HOST:PORT/);
  assert.match(refusal(["--admin=host:65536"]), /--admin wants HOST:PORT/);
  assert.match(refusal(["--admin=::1:80"]), /--admin wants HOST:PORT/);
  assert.match(refusal(["--interval=0"]), /--interval wants seconds, at least 0\.1, got "0"/);
  assert.match(refusal(["--interval=fast"]), /--interval wants seconds/);
  assert.match(refusal(["--interval=-1"]), /--interval wants seconds/);
  assert.match(refusal(["--frobnicate"]), /Unknown option '--frobnicate'/);
  assert.match(refusal(["extra"]), /Unexpected argument 'extra'/);
});
