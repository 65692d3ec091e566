/**
 * A redis client's session: the requests the proxy answers itself (PING, AUTH and NOAUTH until
 * logged in, CLIENT, HELLO, SELECT, ECHO), and its pinned states (see pinning.ts).
 */
import type { RequestInfo, Session } from "../types.ts";
import { CMD, COMMANDS, Shape } from "./commands.ts";
import { errReply } from "./error_reply.ts";
import { type FanoutCommand, fanoutError } from "./fanout.ts";
import { type ClientState, type LocalCommand, localReply } from "./local_commands.ts";
import { RedisPinned } from "./pinning.ts";

const encoder = new TextEncoder();
const PONG = encoder.encode("+PONG\r\n");
const OK = encoder.encode("+OK\r\n");
const NOAUTH = encoder.encode("-NOAUTH Authentication required\r\n");
const NO_PASSWORD_SET = errReply("Client sent AUTH, but no password is set");
const INVALID_PASSWORD = errReply("invalid password");

/** Numbers CLIENT ID gives, unique in the process as redis's are on a server. */
let lastClientId = 0;

/** Whether msg[start, end) is exactly the password's bytes. */
function samePassword(msg: Uint8Array, start: number, end: number, password: Uint8Array): boolean {
  if (end - start !== password.length) return false;
  for (let i = 0; i < password.length; i++) {
    if (msg[start + i] !== password[i]) return false;
  }
  return true;
}

/** What the sessions of one pool share. */
export interface SessionOptions {
  /** redis_auth, or null. */
  password: Uint8Array | null;
  redisDb: number;
  /** The lowest redis_version the pool's servers reported (HELLO's `version`). */
  redisVersion: () => string;
}

/**
 * One client's login state in a pool with the given redis_auth (null: none), and the replies the
 * proxy gives itself. A wrong password logs the session out, as nutcracker does.
 */
export class RedisSession implements Session {
  readonly pinned: RedisPinned;
  /** What CLIENT and HELLO set and read. */
  readonly #client: ClientState;

  constructor(private readonly opts: SessionOptions) {
    this.#client = {
      id: ++lastClientId,
      name: null,
      libName: null,
      libVer: null,
      authenticated: opts.password === null,
    };
    this.pinned = new RedisPinned((req, msg) => this.#local(req, msg));
  }

  get authenticated(): boolean {
    return this.#client.authenticated;
  }

  intercept(req: RequestInfo, msg: Uint8Array): Uint8Array | null {
    const cmd = req.cmd;
    const password = this.opts.password;
    if (cmd === CMD.auth) {
      if (password === null) return NO_PASSWORD_SET;
      this.#client.authenticated = samePassword(msg, req.keys[0], req.keys[1], password);
      return this.#client.authenticated ? OK : INVALID_PASSWORD;
    }
    if (cmd === CMD.quit) return null;
    // HELLO may log in itself (HELLO 2 AUTH default <password>).
    if (!this.#client.authenticated && cmd !== CMD.hello) return NOAUTH;
    if (this.pinned.active) return null; // the pinned state answers everything, PING included
    if (cmd === CMD.ping) return PONG;
    return this.#local(req, msg);
  }

  /** The reply to a command the proxy serves itself (or refuses: a bad SCAN cursor), or null. */
  #local(req: RequestInfo, msg: Uint8Array): Uint8Array | null {
    const spec = COMMANDS[req.cmd];
    if (spec.shape === Shape.Fanout) {
      const why = fanoutError(spec.name as FanoutCommand, msg, req.keys);
      return why === null ? null : errReply(why);
    }
    if (spec.shape !== Shape.Local || (req.cmd === CMD.command && req.keys.length === 0)) return null;
    const ctx = {
      redisDb: this.opts.redisDb,
      password: this.opts.password,
      redisVersion: this.opts.redisVersion(),
    };
    return localReply(spec.name as LocalCommand, msg, req.keys, this.#client, ctx);
  }
}

/** New sessions of a pool with the given redis_auth (null: none). */
export function sessionFactory(
  redisAuth: string | null,
  redisDb = 0,
  redisVersion: () => string = () => "unknown",
): () => RedisSession {
  const opts = { password: redisAuth === null ? null : encoder.encode(redisAuth), redisDb, redisVersion };
  return () => new RedisSession(opts);
}
