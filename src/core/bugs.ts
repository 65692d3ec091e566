/**
 * The proxy's own failures while handling one request (a throw in a protocol module or in the
 * core's reply path): logged at error, while the request alone fails with an error reply.
 */
import { Level, logEvent } from "../log.ts";
import type { Protocol, RequestInfo } from "../protocol/types.ts";
import { errorMessage } from "./errors.ts";

/** Logs a bug met while doing `what` (which names pool and server) for `req` (null: not known). */
export function logBug(protocol: Protocol, req: RequestInfo | null, what: string, err: unknown): void {
  let command = "";
  if (req !== null) {
    try {
      command = ` for ${protocol.commandName(req)}`;
    } catch { /* the name is only for the log */ }
  }
  logEvent(Level.ERR, "core", "bug", `internal error while ${what}${command}: ${errorMessage(err)}`);
}

let lastMessageId = 0;

/** A fresh id for a message named in a log line (`req <id>`, `rsp <id>`), unique in the process. */
export function nextMessageId(): number {
  return ++lastMessageId;
}
