import assert from "assert";
import { Cmd } from "../../../src/protocol/memcache/commands.ts";
import { mergeRetrieval, splitRetrieval } from "../../../src/protocol/memcache/fragment.ts";
import { MemcacheRequestParser } from "../../../src/protocol/memcache/request_parser.ts";
import { Action, type Fragment, type RequestInfo } from "../../../src/protocol/types.ts";
import { freePort, startNutcracker } from "../../../harness/procs.ts";
import { needs } from "../../support/needs.ts";
import { bin, str } from "./latin1.ts";

/** A request framed from `text`, with its bytes. */
function parse(text: string): { req: RequestInfo; msg: Uint8Array } {
  const msg = bin(text);
  const req = new MemcacheRequestParser().parse(msg, 0, msg.length);
  assert.ok(req);
  return { req, msg };
}

/** Fragments as text for comparison. */
function shown(fragments: Fragment[]): { server: number; bytes: string; keyIndexes: number[] }[] {
  return fragments.map((f) => ({ server: f.server, bytes: str(f.bytes), keyIndexes: f.keyIndexes }));
}

/** Splits `text` with the given owners and merges the replies given per server. */
function roundTrip(text: string, owners: number[], replies: Record<number, string>): string | null {
  const { req, msg } = parse(text);
  const fragments = splitRetrieval(req, msg, owners);
  const merged = mergeRetrieval(fragments, fragments.map((f) => bin(replies[f.server])));
  return merged && str(merged);
}

const value = (key: string, data: string) => `VALUE ${key} 0 ${data.length}\r\n${data}\r\n`;

Deno.test("split: one get per server, keys in request order each followed by a space, servers in index order", () => {
  const { req, msg } = parse("get a b c d\r\n");
  assert.deepEqual(shown(splitRetrieval(req, msg, [2, 0, 2, 1])), [
    { server: 0, bytes: "get b \r\n", keyIndexes: [1] },
    { server: 1, bytes: "get d \r\n", keyIndexes: [3] },
    { server: 2, bytes: "get a c \r\n", keyIndexes: [0, 2] },
  ]);
});

Deno.test("split: gets keeps its name; keys are copied byte for byte from wherever they sit", () => {
  const { req, msg } = parse("  gets   \x80k\xff   b~  c\r\n");
  assert.equal(req.cmd, Cmd.Gets);
  assert.deepEqual(shown(splitRetrieval(req, msg, [5, 5, 2])), [
    { server: 2, bytes: "gets c \r\n", keyIndexes: [2] },
    { server: 5, bytes: "gets \x80k\xff b~ \r\n", keyIndexes: [0, 1] },
  ]);
});

Deno.test("split: all keys on one server still make one rebuilt get; duplicates are kept", () => {
  for (const text of ["get a b a\r\n", "get a  b a \r\n", " get a b a\r\n"]) {
    const { req, msg } = parse(text);
    assert.deepEqual(shown(splitRetrieval(req, msg, [0, 0, 0])), [
      { server: 0, bytes: "get a b a \r\n", keyIndexes: [0, 1, 2] },
    ], text);
  }
  const { req, msg } = parse("get a b a\r\n");
  assert.deepEqual(shown(splitRetrieval(req, msg, [1, 0, 1])), [
    { server: 0, bytes: "get b \r\n", keyIndexes: [1] },
    { server: 1, bytes: "get a a \r\n", keyIndexes: [0, 2] },
  ]);
});

Deno.test("merge: VALUE blocks come back in the client's key order, then one END", () => {
  const merged = roundTrip("get a b c\r\n", [1, 0, 1], {
    0: `${value("b", "B")}END\r\n`,
    1: `${value("a", "A")}${value("c", "C")}END\r\n`,
  });
  assert.equal(merged, `${value("a", "A")}${value("b", "B")}${value("c", "C")}END\r\n`);
});

Deno.test("merge: a duplicated key gets the next block for it, so it is returned twice", () => {
  const merged = roundTrip("get a b c zz a\r\n", [0, 1, 0, 1, 0], {
    0: `${value("a", "A")}${value("c", "C")}${value("a", "A")}END\r\n`,
    1: `${value("b", "B")}END\r\n`,
  });
  assert.equal(merged, `${value("a", "A")}${value("b", "B")}${value("c", "C")}${value("a", "A")}END\r\n`);
});

Deno.test("merge: a missing key never shifts the others (where nutcracker would)", () => {
  // a and c on server 0, a missing: nutcracker gives c, b; tsproxy keeps key order: b, c.
  const merged = roundTrip("get a b c\r\n", [0, 1, 0], {
    0: `${value("c", "C")}END\r\n`,
    1: `${value("b", "B")}END\r\n`,
  });
  assert.equal(merged, `${value("b", "B")}${value("c", "C")}END\r\n`);
});

Deno.test("merge: missing keys in the middle are absent; all missing is a bare END", () => {
  const replies = { 0: `${value("a", "A")}${value("c", "C")}END\r\n` };
  assert.equal(
    roundTrip("get a zz c\r\n", [0, 0, 0], replies),
    `${value("a", "A")}${value("c", "C")}END\r\n`,
  );
  assert.equal(roundTrip("get x y\r\n", [0, 1], { 0: "END\r\n", 1: "END\r\n" }), "END\r\n");
});

Deno.test("merge: gets blocks keep their cas unique; data holding VALUE and END lines is copied whole", () => {
  const tricky = "VALUE b 0 1\r\nx\r\nEND\r\n";
  const merged = roundTrip("gets a b\r\n", [0, 1], {
    0: "VALUE a 3 2 77\r\nAA\r\nEND\r\n",
    1: `${value("b", tricky)}END\r\n`,
  });
  assert.equal(merged, `VALUE a 3 2 77\r\nAA\r\n${value("b", tricky)}END\r\n`);
});

Deno.test("merge: blocks for keys nobody asked for are dropped", () => {
  const merged = roundTrip("get a b\r\n", [0, 1], {
    0: `${value("q", "Q")}END\r\n`,
    1: `${value("b", "B")}END\r\n`,
  });
  assert.equal(merged, `${value("b", "B")}END\r\n`);
});

Deno.test("merge: one server's reply to the whole request is the client's reply, as it is", () => {
  const reply = `${value("a", "A")}${value("c", "C")}END\r\n`;
  const { req, msg } = parse("get a b c\r\n");
  const fragments = splitRetrieval(req, msg, [3, 3, 3]);
  const bytes = bin(reply);
  assert.equal(mergeRetrieval(fragments, [bytes]), bytes);
  assert.equal(mergeRetrieval(fragments, [bin("SERVER_ERROR out of memory\r\n")]), null);
});

Deno.test("merge: any fragment reply other than VALUE/END fails the whole get (null)", () => {
  for (
    const bad of ["SERVER_ERROR out of memory\r\n", "ERROR\r\n", "CLIENT_ERROR x\r\n", "STORED\r\n", "42\r\n"]
  ) {
    assert.equal(roundTrip("get a b\r\n", [0, 1], { 0: `${value("a", "A")}END\r\n`, 1: bad }), null, bad);
  }
});

Deno.test("split and merge handle many keys over many servers", () => {
  const keys = Array.from({ length: 500 }, (_, i) => `key${i % 450}`);
  const owners = keys.map((_, i) => (i * 7) % 5);
  const { req, msg } = parse(`get ${keys.join(" ")}\r\n`);
  assert.equal(req.action, Action.Split);
  const fragments = splitRetrieval(req, msg, owners);
  assert.deepEqual(fragments.map((f) => f.server), [0, 1, 2, 3, 4]);
  // Each server answers its keys in order, leaving out every third one.
  const replies = fragments.map((f) => {
    const sent = str(f.bytes).slice(4, -3).split(" ");
    return bin(sent.filter((_, j) => j % 3 !== 1).map((k) => value(k, k.toUpperCase())).join("") + "END\r\n");
  });
  const present = new Set(fragments.flatMap((f) => f.keyIndexes.filter((_, j) => j % 3 !== 1)));
  const expected = keys.filter((_, i) => present.has(i)).map((k) => value(k, k.toUpperCase())).join("") +
    "END\r\n";
  assert.equal(str(mergeRetrieval(fragments, replies) ?? new Uint8Array()), expected);
});

Deno.test(
  "split bytes and merged replies match nutcracker 0.5.0 (fake servers behind the binary)",
  needs("nutcracker"),
  async () => {
    // Two fake servers record each request line and answer a VALUE block per key, in order.
    const received: string[][] = [[], []];
    const listeners = [0, 1].map(() => Deno.listen({ hostname: "127.0.0.1", port: freePort() }));
    const conns: Deno.Conn[] = [];
    const serving = listeners.map(async (listener, s) => {
      for await (const conn of listener) {
        conns.push(conn);
        (async () => {
          const buf = new Uint8Array(65536);
          let pending = "";
          try {
            for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
              pending += str(buf, 0, n);
              for (let eol = pending.indexOf("\r\n"); eol >= 0; eol = pending.indexOf("\r\n")) {
                const line = pending.slice(0, eol + 2);
                pending = pending.slice(eol + 2);
                received[s].push(line);
                const keys = line.slice(line.indexOf(" ") + 1, -2).split(" ").filter((k) => k !== "");
                await conn.write(bin(keys.map((k) => value(k, `${k}@${s}`)).join("") + "END\r\n"));
              }
            }
          } catch { /* closed at the end of the test */ }
        })();
      }
    });
    const port = freePort();
    const servers = listeners.map((l, i) => `   - 127.0.0.1:${(l.addr as Deno.NetAddr).port}:1 s${i}\n`).join(
      "",
    );
    const nc = await startNutcracker(
      `pool:\n  listen: 127.0.0.1:${port}\n  distribution: modula\n  servers:\n${servers}`,
      [port],
    );
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const text = "gets a b c a d e f g h b\r\n";
      await conn.write(bin(text));
      let got = "";
      const buf = new Uint8Array(65536);
      while (!got.endsWith("END\r\n")) got += str(buf, 0, (await conn.read(buf)) ?? 0);
      conn.close();

      // Which server got which key tells the owners; our fragments must be the bytes nutcracker sent.
      const { req, msg } = parse(text);
      const keys = text.slice(5, -2).split(" ");
      const sentKeys = received.map((lines) =>
        lines.flatMap((l) => l.slice(5, -2).split(" ").filter((k) => k))
      );
      const owners = keys.map((k) => sentKeys.findIndex((ks) => ks.includes(k)));
      assert.deepEqual(new Set(owners), new Set([0, 1]), "the keys should reach both servers");
      const fragments = splitRetrieval(req, msg, owners);
      assert.deepEqual(
        fragments.map((f) => str(f.bytes)),
        received.flat(),
      );
      const replies = fragments.map((f) => {
        const ks = str(f.bytes).slice(5, -3).split(" ");
        return bin(ks.map((k) => value(k, `${k}@${f.server}`)).join("") + "END\r\n");
      });
      assert.equal(str(mergeRetrieval(fragments, replies) ?? new Uint8Array()), got);
    } finally {
      await nc.stop();
      for (const l of listeners) l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all(serving);
    }
  },
);
