import assert from "assert";
import { handshakeRequests } from "../../../src/protocol/redis/handshake.ts";
import type { HandshakeRequest } from "../../../src/protocol/types.ts";
import { text } from "./resp.ts";

const shown = (requests: HandshakeRequest[]) => requests.map((r) => text(r.bytes));

Deno.test("no redis_db and no redis_auth: nothing is sent first", () => {
  assert.deepEqual(handshakeRequests(0, null), []);
});

Deno.test("redis_db > 0 sends SELECT <db>", () => {
  assert.deepEqual(shown(handshakeRequests(3, null)), ["*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"]);
  assert.deepEqual(shown(handshakeRequests(12, null)), ["*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"]);
});

Deno.test("redis_auth sends AUTH <password> with its byte length", () => {
  assert.deepEqual(shown(handshakeRequests(0, "pw123")), ["*2\r\n$4\r\nAUTH\r\n$5\r\npw123\r\n"]);
  assert.deepEqual(shown(handshakeRequests(0, "pä")), ["*2\r\n$4\r\nAUTH\r\n$3\r\npä\r\n"]);
});

Deno.test("with both, SELECT goes before AUTH as nutcracker does", () => {
  assert.deepEqual(shown(handshakeRequests(12, "pw123")), [
    "*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n",
    "*2\r\n$4\r\nAUTH\r\n$5\r\npw123\r\n",
  ]);
});

Deno.test("each handshake request says what it asks, for the log line when a server refuses it", () => {
  assert.deepEqual(handshakeRequests(12, "pw123").map((r) => r.what), ["SELECT 12", "AUTH"]);
});
