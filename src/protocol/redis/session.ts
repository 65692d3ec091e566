/** Requests the proxy answers itself: PING, AUTH, and NOAUTH for sessions that must log in first. */
import type { RequestInfo, Session } from "../types.ts";
import { CMD } from "./commands.ts";
import { errReply } from "./error_reply.ts";

const encoder = new TextEncoder();
const PONG = encoder.encode("+PONG\r\n");
const OK = encoder.encode("+OK\r\n");
const NOAUTH = encoder.encode("-NOAUTH Authentication required\r\n");
const NO_PASSWORD_SET = errReply("Client sent AUTH, but no password is set");
const INVALID_PASSWORD = errReply("invalid password");

/** Whether msg[start, end) is exactly the password's bytes. */
function samePassword(msg: Uint8Array, start: number, end: number, password: Uint8Array): boolean {
  if (end - start !== password.length) return false;
  for (let i = 0; i < password.length; i++) {
    if (msg[start + i] !== password[i]) return false;
  }
  return true;
}

/**
 * The interceptor of a pool with the given redis_auth: the proxy's own reply to a request, or null
 * to let it through. A wrong password logs the session out, as nutcracker does.
 */
export function interceptor(
  redisAuth: string | null,
): (req: RequestInfo, msg: Uint8Array, session: Session) => Uint8Array | null {
  const password = redisAuth === null ? null : encoder.encode(redisAuth);
  return (req, msg, session) => {
    const cmd = req.cmd;
    if (cmd === CMD.auth) {
      if (password === null) return NO_PASSWORD_SET;
      session.authenticated = samePassword(msg, req.keys[0], req.keys[1], password);
      return session.authenticated ? OK : INVALID_PASSWORD;
    }
    if (cmd === CMD.quit) return null;
    if (!session.authenticated) return NOAUTH;
    return cmd === CMD.ping ? PONG : null;
  };
}
