import assert from "assert";
import { errReply } from "../../../src/protocol/redis/error_reply.ts";
import { text } from "./resp.ts";

Deno.test("proxy errors are -ERR <reason> lines", () => {
  assert.equal(text(errReply("Connection refused")), "-ERR Connection refused\r\n");
});
