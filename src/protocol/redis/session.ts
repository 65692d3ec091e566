/** A redis client's session: the requests the proxy answers itself (PING, AUTH, and NOAUTH until logged in). */
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
 * One client's login state in a pool with the given redis_auth (null: none), and the replies the
 * proxy gives itself. A wrong password logs the session out, as nutcracker does.
 */
export class RedisSession implements Session {
  #authenticated: boolean;

  constructor(private readonly password: Uint8Array | null) {
    this.#authenticated = password === null;
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  intercept(req: RequestInfo, msg: Uint8Array): Uint8Array | null {
    const cmd = req.cmd;
    if (cmd === CMD.auth) {
      if (this.password === null) return NO_PASSWORD_SET;
      this.#authenticated = samePassword(msg, req.keys[0], req.keys[1], this.password);
      return this.#authenticated ? OK : INVALID_PASSWORD;
    }
    if (cmd === CMD.quit) return null;
    if (!this.#authenticated) return NOAUTH;
    return cmd === CMD.ping ? PONG : null;
  }
}

/** New sessions of a pool with the given redis_auth (null: none). */
export function sessionFactory(redisAuth: string | null): () => RedisSession {
  const password = redisAuth === null ? null : encoder.encode(redisAuth);
  return () => new RedisSession(password);
}
