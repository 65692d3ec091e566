/**
 * The memcache failure catalogue, as measured on nutcracker 0.5.0, as replayable scenarios: a client
 * script per failure, and the exact bytes and open/closed outcome nutcracker 0.5.0 gives the client
 * at every step.
 *
 * The same scenario runs behind tsproxy (tests/core/memcache_failures_test.ts, which also checks the
 * stats), behind both proxies side by side (tests/diff/memcache_failures_diff_test.ts), and behind
 * either one in `deno task harness`.
 */
import { type Scenario, sleep } from "../memcache_lab.ts";
import { Placement } from "../placement.ts";

const AB = new Placement(["a", "b"], null);
const [KEY_B, KEY_B2] = AB.keysOn(1, "key", 2);

/** Keys placed on server a or b of a two-server pool (default hash and distribution). */
export const KEYS = { a: AB.keysOn(0, "key")[0], b: KEY_B, b2: KEY_B2 };

const REFUSED = "SERVER_ERROR Connection refused\r\n";
const TIMED_OUT = "SERVER_ERROR Connection timed out\r\n";
const END = "END\r\n";
const value = (key: string, data: string) => `VALUE ${key} 0 ${data.length}\r\n${data}\r\n${END}`;
const ONE_MB = 1024 * 1024;

/** Every memcache failure situation, with the outcome measured on nutcracker 0.5.0. */
export const SCENARIOS = {
  refused: {
    behaviour: "a server whose port is closed: each pipelined request gets SERVER_ERROR Connection refused",
    servers: [{ name: "a", kind: "refused" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("pipelined gets", c, "get k\r\nget j\r\n", 2);
      await lab.checkpoint("after pipelined gets");
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: { "pipelined gets": [REFUSED + REFUSED, false], "next get": [REFUSED, false] },
  },

  timeout: {
    behaviour: "a server that never answers (timeout 300): both requests on its connection time out at once",
    directives: ["timeout: 300"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "silent" } }],
    async play(lab) {
      const first = await lab.client();
      const second = await lab.client();
      const t0 = Date.now();
      await first.send("get k\r\n");
      await sleep(150);
      const t1 = Date.now();
      await second.send("get j\r\n");
      await Promise.all([lab.watch("first client", first, 1, t0), lab.watch("second client", second, 1, t1)]);
      await lab.checkpoint("after timeout");
      lab.fake("a").faults.clear();
      await lab.ask("first client again", first, "get k\r\n");
    },
    expect: {
      "first client": [TIMED_OUT, false],
      "second client": [TIMED_OUT, false],
      "first client again": [END, false],
    },
  },

  unresolvable: {
    behaviour: "a server host name that does not resolve: SERVER_ERROR Host is down, one failure per request",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "unresolvable" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("pipelined gets", c, get + get + get, 3);
    },
    expect: { "pipelined gets": ["SERVER_ERROR Host is down\r\n".repeat(2) + END, false] },
  },

  unixMissing: {
    behaviour:
      "a unix socket server path that is missing: SERVER_ERROR No such file or directory, one failure per request",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "unix-missing" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("pipelined gets", c, get + get + get, 3);
    },
    expect: { "pipelined gets": ["SERVER_ERROR No such file or directory\r\n".repeat(2) + END, false] },
  },

  closeAfterRead: {
    behaviour: "a server that hangs up after reading: SERVER_ERROR unknown for every pending request",
    servers: [{ name: "a", kind: "fake", fault: { mode: "close" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("pipelined gets", c, "get k\r\nget j\r\n", 2);
      await lab.checkpoint("after hangup");
      lab.fake("a").faults.clear();
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: { "pipelined gets": ["SERVER_ERROR unknown\r\n".repeat(2), false], "next get": [END, false] },
  },

  garbage: {
    behaviour: "a server that answers garbage: SERVER_ERROR Invalid argument for every pending request",
    servers: [{ name: "a", kind: "fake", fault: { mode: "garbage" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("pipelined gets", c, "get k\r\nget j\r\n", 2);
      await lab.checkpoint("after garbage");
      lab.fake("a").faults.clear();
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: {
      "pipelined gets": ["SERVER_ERROR Invalid argument\r\n".repeat(2), false],
      "next get": [END, false],
    },
  },

  relayedFake: {
    behaviour: "a server's own SERVER_ERROR, CLIENT_ERROR and ERROR replies are relayed verbatim",
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const faults = lab.fake("a").faults;
      faults.set({ mode: "reply", raw: "SERVER_ERROR out of memory storing object\r\n" });
      await lab.ask("server error", c, "set k 0 0 1\r\nv\r\n");
      faults.set({ mode: "reply", raw: "CLIENT_ERROR bad data chunk\r\n" });
      await lab.ask("client error", c, "set k 0 0 1\r\nv\r\n");
      faults.set({ mode: "reply", raw: "ERROR\r\n" });
      await lab.ask("error", c, "get k\r\n");
    },
    expect: {
      "server error": ["SERVER_ERROR out of memory storing object\r\n", false],
      "client error": ["CLIENT_ERROR bad data chunk\r\n", false],
      "error": ["ERROR\r\n", false],
    },
  },

  relayedMemcached: {
    behaviour:
      "real memcached's own errors (object too large, bad delta, non-numeric value) are relayed verbatim",
    servers: [{ name: "a", kind: "memcached" }],
    needs: ["memcached"],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("too large", c, `set big 0 0 ${ONE_MB}\r\n${"x".repeat(ONE_MB)}\r\n`);
      await lab.ask("negative delta", c, "incr n -1\r\n");
      await lab.ask("non-numeric", c, "set t 0 0 1\r\nx\r\nincr t 1\r\n", 2);
    },
    expect: {
      "too large": ["SERVER_ERROR object too large for cache\r\n", false],
      "negative delta": ["CLIENT_ERROR invalid numeric delta argument\r\n", false],
      "non-numeric": ["STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n", false],
    },
  },

  allEjected: {
    behaviour: "every server ejected: SERVER_ERROR Connection refused at once, with no connect attempt",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 1", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "close" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("ejecting get", c, "get k\r\n");
      await lab.checkpoint("after ejection");
      await lab.ask("while ejected", c, "get k\r\nset x 0 0 1 noreply\r\nv\r\nget j\r\n", 2);
      await lab.checkpoint("while ejected");
      await lab.ask("get and multi-get while ejected", c, "get k\r\nget k j\r\n", 2);
    },
    expect: {
      "ejecting get": ["SERVER_ERROR unknown\r\n", false],
      "while ejected": [REFUSED + REFUSED, false],
      "get and multi-get while ejected": [REFUSED + REFUSED, true],
    },
  },

  allEjectedMultiGet: {
    behaviour:
      "every server ejected, a multi-get with no reply pending before it: the client is closed, nothing sent",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 1", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "close" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("ejecting get", c, "get k\r\n");
      await lab.ask("multi-get while ejected", c, "get k j\r\nget k\r\n", 2);
    },
    expect: {
      "ejecting get": ["SERVER_ERROR unknown\r\n", false],
      "multi-get while ejected": ["", true],
    },
  },

  ejection: {
    behaviour:
      "after server_failure_limit failures the server is ejected and its key is served by the other server",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 1500"],
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("1st", c, get);
      await lab.ask("2nd", c, get);
      await lab.ask("3rd", c, get);
      await lab.checkpoint("ejected");
      await sleep(1600); // past server_retry_timeout: the dead server is tried again
      await lab.ask("1st after retry", c, get);
      await lab.ask("2nd after retry", c, get);
      await lab.ask("3rd after retry", c, get);
      await lab.checkpoint("ejected again");
    },
    expect: {
      "1st": [REFUSED, false],
      "2nd": [REFUSED, false],
      "3rd": [END, false],
      "1st after retry": [REFUSED, false],
      "2nd after retry": [REFUSED, false],
      "3rd after retry": [END, false],
    },
  },

  comeback: {
    behaviour: "an ejected server that is back gets its keys again once server_retry_timeout has passed",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 1500"],
    servers: [{ name: "a", kind: "fake" }, { name: "b", kind: "fake" }],
    async play(lab) {
      await lab.seed("a", `set ${KEYS.a} 0 0 1\r\nA\r\n`);
      await lab.seed("b", `set ${KEYS.a} 0 0 1\r\nB\r\n`);
      await lab.fake("a").refuse();
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("1st", c, get);
      await lab.ask("2nd", c, get);
      await lab.ask("while ejected", c, get);
      await lab.fake("a").restore();
      await lab.ask("before retry time", c, get);
      await sleep(1600);
      await lab.ask("after retry time", c, get);
    },
    expect: {
      "1st": [REFUSED, false],
      "2nd": [REFUSED, false],
      "while ejected": [value(KEYS.a, "B"), false],
      "before retry time": [value(KEYS.a, "B"), false],
      "after retry time": [value(KEYS.a, "A"), false],
    },
  },

  fragmentFailed: {
    behaviour:
      "a multi-get with one fragment refused: one SERVER_ERROR for the whole get, then the client is closed",
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("multi-get", c, `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\n`);
    },
    expect: { "multi-get": [REFUSED, true] },
  },

  fragmentTimedOut: {
    behaviour:
      "a multi-get with one fragment timed out: one SERVER_ERROR for the whole get, then the client is closed",
    directives: ["timeout: 300"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "silent" } }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("multi-get", c, `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\n`);
    },
    expect: { "multi-get": [TIMED_OUT, true] },
  },

  fragmentFailedPipelined: {
    behaviour:
      "a get failing with a refused multi-get before it still gets its own error, then the client is closed",
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("multi-get then get", c, `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\nget ${KEYS.a}\r\n`, 2);
    },
    expect: { "multi-get then get": [REFUSED + REFUSED, true] },
  },

  fragmentErrorReply: {
    behaviour:
      "a multi-get with a fragment answered by a server error: SERVER_ERROR Invalid argument, client stays open",
    servers: [
      { name: "a", kind: "fake", fault: { mode: "reply", raw: "SERVER_ERROR out of memory\r\n" } },
      { name: "b", kind: "fake" },
    ],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\n`;
      await lab.ask("multi-get", c, get);
      await lab.ask("multi-get again", c, get);
    },
    expect: { "multi-get": ["SERVER_ERROR Invalid argument\r\n", false], "multi-get again": [END, false] },
  },

  malformed: {
    behaviour: "an unsupported command or a key too long closes the client at once",
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("unknown command", c, "get k\r\nGET k\r\n", 2);
      const d = await lab.client();
      await lab.ask("key too long", d, `get k\r\nget ${"x".repeat(251)}\r\n`, 2);
    },
    expect: {
      "unknown command": ["END\r\nCLIENT_ERROR unknown command 'GET'\r\n", true],
      "key too long": ["END\r\nCLIENT_ERROR key too long\r\n", true],
    },
    documented: {
      why:
        "README: a malformed request gets one CLIENT_ERROR line after the earlier replies (nutcracker closes silently)",
      nutcracker: { "unknown command": ["", true], "key too long": ["", true] },
    },
  },

  noreplyDead: {
    behaviour: "a noreply request to a dead server: nothing is sent back and the client stays open",
    servers: [{ name: "a", kind: "refused" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("noreply set", c, "set k 0 0 1 noreply\r\nv\r\n", 0);
      await lab.checkpoint("after noreply");
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: { "noreply set": ["", false], "next get": [REFUSED, false] },
  },

  preconnect: {
    behaviour:
      "a preconnect failure counts as a server failure: with limit 1 the key is served elsewhere at once",
    directives: [
      "preconnect: true",
      "auto_eject_hosts: true",
      "server_failure_limit: 1",
      "server_retry_timeout: 10000",
    ],
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      await lab.until((s) => s.pool.server_ejects === 1);
      await lab.checkpoint("after startup");
      const c = await lab.client();
      await lab.ask("first get", c, `get ${KEYS.a}\r\n`);
    },
    expect: { "first get": [END, false] },
  },

  clientLimit: {
    behaviour: "client_connections 1: a second client is closed at once, the first one is served",
    directives: ["client_connections: 1"],
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const first = await lab.client();
      await lab.ask("first client", first, "get k\r\n");
      const second = await lab.client();
      await lab.ask("second client", second, "get k\r\n");
      await lab.checkpoint("two clients tried");
      await lab.ask("first client again", first, "get k\r\n");
    },
    expect: {
      "first client": [END, false],
      "second client": ["", true],
      "first client again": [END, false],
    },
    documented: {
      why: "README: client_connections is enforced (nutcracker 0.5.0 parses it and ignores it)",
      nutcracker: { "second client": [END, false] },
    },
  },

  disconnectedClient: {
    behaviour:
      "replies of a client that left are dropped; another client on the same server connection is unaffected",
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const stayer = await lab.client();
      await lab.ask("store", stayer, "set k 0 0 1\r\nv\r\n");
      lab.fake("a").faults.set({ mode: "delay", ms: 300 });
      const leaver = await lab.client();
      await leaver.send("get k\r\nget k\r\n");
      await sleep(50);
      leaver.close();
      await sleep(50);
      await lab.ask("other client", stayer, "get nokey\r\nget k\r\n", 2);
    },
    expect: { "store": ["STORED\r\n", false], "other client": [END + value("k", "v"), false] },
  },
} satisfies Record<string, Scenario>;
