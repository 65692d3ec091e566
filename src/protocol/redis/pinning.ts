/**
 * A redis client's pinned states: transactions (MULTI ... EXEC, WATCH), blocking commands and
 * subscriptions, each on server connections of the client's own (see PinHost).
 *
 * The rule that matters most: a transaction is applied whole or not at all. Its first keyed command
 * picks its server (keyless commands before it wait in the proxy, answered QUEUED, and go out with
 * it; a transaction with no key at all runs on the placeholder's server, as nutcracker routes keyless
 * commands); a command whose keys are elsewhere is refused and the transaction is discarded at EXEC
 * (EXECABORT), as redis discards one with a command it refused.
 */
import { type PinHost, type PinnedSession, PinReply, type RequestInfo } from "../types.ts";
import { CMD, COMMANDS, Shape } from "./commands.ts";
import { errReply } from "./error_reply.ts";
import { argsOf, command, isWord } from "./resp.ts";
import { Subscriptions } from "./pubsub.ts";

const encoder = new TextEncoder();
const OK = encoder.encode("+OK\r\n");
const QUEUED = encoder.encode("+QUEUED\r\n");
const EMPTY_EXEC = encoder.encode("*0\r\n");
const EXECABORT = encoder.encode("-EXECABORT Transaction discarded because of previous errors.\r\n");
const MULTI = command("multi");
const DISCARD = command("discard");
const ONE_SERVER = "every key of a transaction must be on one server (use a hash tag)";

/** The key ranges a request routes by (flat pairs), for the commands whose keys the parser does not mark. */
export function routingKeys(req: RequestInfo, msg: Uint8Array): number[] {
  const spec = COMMANDS[req.cmd];
  const args = req.keys;
  if (spec.shape !== Shape.Pinned) return args;
  const n = args.length / 2;
  const range = (from: number, to: number) => args.slice(2 * from, 2 * to);
  switch (req.cmd) {
    case CMD.watch:
      return args;
    case CMD.brpoplpush:
    case CMD.blmove:
      return range(0, 2);
    case CMD.blmpop:
    case CMD.bzmpop: { // timeout numkeys key ...
      const numkeys = Number(new TextDecoder().decode(msg.subarray(args[2], args[3])));
      return Number.isInteger(numkeys) && numkeys > 0 && numkeys <= n - 2 ? range(2, 2 + numkeys) : [];
    }
    case CMD.xread:
    case CMD.xreadgroup: { // ... STREAMS key ... id ...
      const streams = argsOf(msg, args).findIndex((a) => isWord(a, "streams"));
      const rest = n - streams - 1;
      return streams < 0 || rest % 2 !== 0 ? [] : range(streams + 1, streams + 1 + rest / 2);
    }
    case CMD.wait:
      return [];
    default: // BLPOP, BRPOP, BZPOPMIN, BZPOPMAX: keys, then the timeout
      return range(0, n - 1);
  }
}

/** Whether a request blocks until its data comes (no pool timeout for it). */
function blocks(req: RequestInfo, msg: Uint8Array): boolean {
  if (req.cmd !== CMD.xread && req.cmd !== CMD.xreadgroup) return true;
  return argsOf(msg, req.keys).some((a) => isWord(a, "block"));
}

/**
 * The one server every key of `keys` lives on (no key: `held`, the server a state holds, else the
 * placeholder's); -1 when none is live, -2 when they are on several.
 */
function serverOf(keys: readonly number[], msg: Uint8Array, host: PinHost, held: number): number {
  if (keys.length === 0) return held >= 0 ? held : host.route(msg, -1, -1);
  let server = host.route(msg, keys[0], keys[1]);
  for (let i = 2; i < keys.length && server >= 0; i += 2) {
    if (host.route(msg, keys[i], keys[i + 1]) !== server) server = -2;
  }
  return server;
}

export class RedisPinned implements PinnedSession {
  /** The transaction's (or WATCH's) server, -1 while none is picked. */
  #server = -1;
  #watching = false;
  #multi = false;
  /** MULTI went to the server (it is sent with the transaction's first command). */
  #multiSent = false;
  /** The transaction is to be discarded: EXEC answers EXECABORT. */
  #aborted = false;
  /** A watched connection was lost: the next transaction is discarded (its keys were not watched). */
  #watchLost = false;
  /** Keyless commands of the transaction read before its server is known (copies), sent after MULTI. */
  #deferred: Uint8Array[] = [];
  /** Made on the first subscription (most clients never subscribe). */
  #subs: Subscriptions | null = null;

  /** `local` answers the commands the proxy serves itself (CLIENT, ECHO...) while a WATCH holds. */
  constructor(private readonly local: (req: RequestInfo, msg: Uint8Array) => Uint8Array | null) {}

  get active(): boolean {
    return this.#multi || this.#watching || (this.#subs?.active ?? false);
  }

  /** Inside MULTI: commands are queued on the server, not run. */
  get queuing(): boolean {
    return this.#multi;
  }

  request(req: RequestInfo, msg: Uint8Array, host: PinHost): void {
    const cmd = req.cmd;
    const shape = COMMANDS[cmd].shape;
    const pubsub = cmd === CMD.subscribe || cmd === CMD.psubscribe || cmd === CMD.unsubscribe ||
      cmd === CMD.punsubscribe;
    if (this.#subs?.active || (pubsub && !this.#multi && !this.#watching)) {
      (this.#subs ??= new Subscriptions()).request(req, msg, host);
      return;
    }
    switch (cmd) {
      case CMD.multi:
        return this.#begin(host);
      case CMD.exec:
        return this.#exec(msg, host);
      case CMD.discard:
        return this.#discard(msg, host);
      case CMD.watch:
        return this.#watch(req, msg, host);
      case CMD.unwatch:
        if (!this.#multi) return this.#unwatch(msg, host);
    }
    if (pubsub || shape === Shape.Fanout || shape === Shape.Local) {
      const name = COMMANDS[cmd].name.toUpperCase();
      if (this.#multi) return this.#refuse(`${name} is not supported inside a transaction`, host);
      const local = shape === Shape.Local ? this.local(req, msg) : null;
      host.answer(local ?? errReply(`${name} is not supported while WATCH holds a server connection`));
      return;
    }
    if (this.#multi) return this.#queue(req, msg, host);
    this.#run(req, msg, host);
  }

  refused(): void {
    if (this.#multi) this.#aborted = true;
  }

  frame(_server: number, bytes: Uint8Array, host: PinHost): void {
    this.#subs?.frame(bytes, host);
  }

  lost(server: number, host: PinHost): void {
    if (this.#subs?.active) {
      this.#subs.lost(host);
      return;
    }
    if (server !== this.#server && server >= 0) return;
    this.#server = -1;
    if (this.#multi) {
      this.#aborted = true;
      this.#multiSent = false;
    }
    if (this.#watching) {
      this.#watching = false;
      this.#watchLost = true;
    }
  }

  #begin(host: PinHost): void {
    if (this.#multi) {
      host.answer(errReply("MULTI calls can not be nested"));
      return;
    }
    this.#multi = true;
    this.#aborted = this.#watchLost;
    this.#watchLost = false;
    host.answer(OK);
    // A watched server is known: the transaction opens there now.
    if (this.#watching && !this.#aborted) this.#openOn(this.#server, host);
  }

  /**
   * Sends MULTI to `server`, and the keyless commands read before it (their +OK and QUEUED were
   * answered already; a server refusing one fails EXEC); false when no connection could be had.
   */
  #openOn(server: number, host: PinHost): boolean {
    if (host.send(server, MULTI, PinReply.Drop) !== null) return false;
    this.#server = server;
    this.#multiSent = true;
    for (const msg of this.#deferred.splice(0)) host.send(server, msg, PinReply.Drop);
    return true;
  }

  /** A command inside MULTI: queued on the transaction's server, or refused (and the transaction with it). */
  #queue(req: RequestInfo, msg: Uint8Array, host: PinHost): void {
    if (this.#aborted) {
      host.answer(errReply("command not queued: the transaction failed already and EXEC will discard it"));
      return;
    }
    const keys = routingKeys(req, msg);
    if (keys.length === 0 && !this.#multiSent) {
      this.#deferred.push(msg.slice());
      host.answer(QUEUED);
      return;
    }
    const server = serverOf(keys, msg, host, this.#server);
    if (server === -2 || (this.#server >= 0 && server !== this.#server)) {
      return this.#refuse(ONE_SERVER, host);
    }
    if (server < 0) return this.#refuse("no live server for the transaction", host);
    if (!this.#multiSent && !this.#openOn(server, host)) {
      return this.#refuse("no connection to the transaction's server", host);
    }
    const why = host.send(server, msg, PinReply.Client);
    if (why !== null) this.#refuse(why, host);
  }

  /** A command refused inside MULTI: its error now, EXECABORT at EXEC. */
  #refuse(reason: string, host: PinHost): void {
    this.#aborted = true;
    host.answer(errReply(reason));
  }

  #exec(msg: Uint8Array, host: PinHost): void {
    if (!this.#multi) {
      host.answer(errReply("EXEC without MULTI"));
      return;
    }
    if (!this.#aborted && !this.#multiSent && this.#deferred.length > 0) {
      const server = host.route(msg, -1, -1); // keyless commands only: the placeholder's server
      if (server < 0 || !this.#openOn(server, host)) this.#aborted = true;
    }
    if (this.#aborted) {
      if (this.#multiSent) host.send(this.#server, DISCARD, PinReply.Drop);
      host.answer(EXECABORT);
    } else if (!this.#multiSent) host.answer(EMPTY_EXEC);
    else if (host.send(this.#server, msg, PinReply.Client) !== null) host.answer(EXECABORT);
    this.#end(host);
  }

  #discard(msg: Uint8Array, host: PinHost): void {
    if (!this.#multi) {
      host.answer(errReply("DISCARD without MULTI"));
      return;
    }
    if (!this.#multiSent || host.send(this.#server, msg, PinReply.Client) !== null) host.answer(OK);
    this.#end(host);
  }

  /** EXEC or DISCARD sent: the transaction and its WATCH are over once their replies are in. */
  #end(host: PinHost): void {
    this.#multi =
      this.#multiSent =
      this.#aborted =
      this.#watching =
        false;
    this.#server = -1;
    this.#deferred = [];
    host.release();
    host.hold();
  }

  #watch(req: RequestInfo, msg: Uint8Array, host: PinHost): void {
    if (this.#multi) {
      host.answer(errReply("WATCH inside MULTI is not allowed"));
      return;
    }
    const server = serverOf(req.keys, msg, host, -1);
    if (server === -2 || (this.#watching && server !== this.#server)) {
      host.answer(errReply("every watched key must be on one server (use a hash tag)"));
      return;
    }
    const why = server < 0 ? "no live server" : host.send(server, msg, PinReply.Client);
    if (why !== null) {
      host.answer(errReply(why));
      return;
    }
    this.#server = server;
    this.#watching = true;
  }

  #unwatch(msg: Uint8Array, host: PinHost): void {
    this.#watchLost = false;
    if (!this.#watching || host.send(this.#server, msg, PinReply.Client) !== null) {
      host.answer(OK);
    }
    this.#watching = false;
    this.#server = -1;
    host.release();
    host.hold();
  }

  /**
   * A blocking command, or a command while a WATCH holds a server: on that server's pinned
   * connection; a blocking one waits with no timeout, and the client's next requests wait for it.
   */
  #run(req: RequestInfo, msg: Uint8Array, host: PinHost): void {
    const server = serverOf(routingKeys(req, msg), msg, host, this.#server);
    const pinnedShape = COMMANDS[req.cmd].shape === Shape.Pinned;
    if (server === -2) {
      host.answer(
        errReply(
          `every key of ${COMMANDS[req.cmd].name.toUpperCase()} must be on one server (use a hash tag)`,
        ),
      );
      return;
    }
    if (this.#watching && server !== this.#server) {
      host.answer(errReply("while WATCH holds a server, every key must be on it (use a hash tag)"));
      return;
    }
    const use = pinnedShape && blocks(req, msg) ? PinReply.Blocking : PinReply.Client;
    const why = server < 0 ? "no live server" : host.send(server, msg, use);
    if (why !== null) {
      host.answer(errReply(why));
      return;
    }
    if (!pinnedShape || this.#watching) return;
    host.release();
    host.hold();
  }
}
