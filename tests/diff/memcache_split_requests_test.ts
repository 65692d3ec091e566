/**
 * Requests memcached reads differently from their framing (issue 11, defect 2) through tsproxy in
 * front of one real memcached, so every client shares one server connection. Before the fix tsproxy
 * forwarded them: memcached read two commands (a bare \n or a NUL in a key), or refused the line and
 * then read the data block as a command (a number beyond its range), and the extra reply went to the
 * next request on the connection, another client's. Now client A gets `CLIENT_ERROR <reason>` and is
 * closed, and client B, right behind it on the same server connection, gets exactly its own replies.
 */
import assert from "assert";
import { bin, str } from "../protocol/memcache/latin1.ts";
import { type MemcacheSetup, startMemcacheSetup } from "../support/memcache_setup.ts";
import { needs } from "../support/needs.ts";
import { show } from "../../harness/bytes.ts";
import { Wire } from "../../harness/wire.ts";

/** Client B's requests and the replies it must get, whatever client A sent just before. */
const B_REQUESTS = "set k 0 0 1\r\nv\r\nget k\r\n";
const B_REPLIES = "STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n";

/**
 * Requests memcached reads as something else than one request with the reply count its framing
 * promises, with what 1.6.18 does with each (measured against the binary).
 */
const DANGEROUS: [string, string][] = [
  ["get a\nb\r\n", "two lines: END then ERROR"],
  ["get a\n\r\n", "two lines: END then ERROR for the empty line"],
  ["get a b\nc d\r\n", "a multi-get cut in two: END then ERROR"],
  ["set a\nb 0 0 1\r\nx\r\n", "three lines: ERROR, ERROR, ERROR"],
  ["set a\x00b 0 0 1\r\nx\r\n", "the line ends at the NUL: ERROR, then the data block read as a command"],
  ["touch a\x00 1 noreply\r\n", "read as `touch a`: ERROR where noreply promised none"],
  ["delete a\x00 noreply\r\n", "read as `delete a`: NOT_FOUND where noreply promised none"],
  ["get a\x00b c\r\n", "read as `get a`: the key c is never looked up"],
  ["set a\x01 0 0 1\r\nx\r\n", "a control byte memcached's protocol forbids in keys"],
  [
    "set a 18446744073709551616 0 1\r\nx\r\n",
    "flags beyond 64 bits: CLIENT_ERROR, then the data read as a command",
  ],
  ["set a 4294967296 0 1 noreply\r\nx\r\n", "flags beyond 32 bits: stored as 0"],
  [
    "set a 0 9223372036854775808 1\r\nx\r\n",
    "exptime beyond 63 bits: CLIENT_ERROR, then the data as a command",
  ],
  ["set a 0 4294967296 1\r\nx\r\n", "exptime beyond 32 bits: cut to 32 bits (0, never expires)"],
  ["set a 0 0 18446744073709551616\r\n\r\n", "bytes beyond 64 bits (0 in 32 bits): CLIENT_ERROR, then ERROR"],
  ["set a 0 0 4294967297\r\nx\r\n", "bytes beyond 32 bits: cut to 32 bits"],
  [
    "cas a 0 0 1 18446744073709551616\r\nx\r\n",
    "cas beyond 64 bits: CLIENT_ERROR, then the data as a command",
  ],
  ["incr a 18446744073709551616\r\n", "delta beyond 64 bits: CLIENT_ERROR"],
  ["incr a -18446744073709551615\r\n", "a negative delta strtoull wraps: read as incr by 1"],
  ["touch a 9223372036854775808\r\n", "exptime beyond 63 bits: CLIENT_ERROR"],
  ["touch a 4294967296 noreply\r\n", "exptime beyond 32 bits: cut to 0"],
];

/** Reads until `want` bytes arrived (or 3 s), then whatever follows within 300 ms. */
async function readReplies(w: Wire, want: number): Promise<string> {
  let got = "";
  const deadline = Date.now() + 3000;
  while (got.length < want && Date.now() < deadline) {
    const { bytes, closed } = await w.drain(100);
    got += str(bytes);
    if (closed) return got;
  }
  return got + str((await w.drain(300)).bytes);
}

Deno.test(
  "a request memcached would read as another one is refused; the next client on the server connection gets its own replies",
  needs("memcached"),
  async (t) => {
    let setup: MemcacheSetup | null = null;
    try {
      setup = await startMemcacheSetup("tsproxy", { count: 1 });
      const port = setup.port;
      for (const [request, why] of DANGEROUS) {
        await t.step(`${show(request)} (${why})`, async () => {
          const a = await Wire.connect(port);
          const b = await Wire.connect(port);
          try {
            // A's request first, B's right behind it: on the old code both were in flight on the one
            // server connection together, and A's extra reply went to B.
            await a.send(bin(request));
            await b.send(bin(B_REQUESTS));
            const [fromA, fromB] = await Promise.all([
              a.closedWithin(3000).then((closed) => ({ closed, text: "" })),
              readReplies(b, B_REPLIES.length),
            ]);
            assert.equal(fromB, B_REPLIES, `client B's replies behind ${show(request)}`);
            assert.ok(fromA.closed, `client A is closed after ${show(request)}`);
            const rest = str((await a.drain(100)).bytes);
            assert.match(rest, /^CLIENT_ERROR [^\r\n]+\r\n$/, `client A's reply to ${show(request)}`);
          } finally {
            a.close();
            b.close();
          }
        });
      }
    } finally {
      await setup?.stop();
    }
  },
);
