/**
 * A client's subscriptions across a pool. A channel lives on the server its name hashes to, so a
 * publisher (PUBLISH routes by the channel) and its subscribers meet there; a pattern is subscribed
 * on every server. The client sees one connection's frames: the proxy keeps the subscription count
 * itself and writes each confirmation once its servers confirmed.
 */
import type { ExpectedReply, PinHost, RequestInfo } from "../types.ts";
import { CMD, COMMANDS } from "./commands.ts";
import { errReply } from "./error_reply.ts";
import { argsOf, command, concat, isWord, latin1, latin1Bytes, pushElements } from "./resp.ts";

const encoder = new TextEncoder();

/** A confirmation waiting for its servers. */
interface Pending {
  kind: string;
  name: string;
  /** Server confirmations still to come. */
  waits: number;
  /** The client's frame, written once every server confirmed. */
  frame: Uint8Array;
  slot: ExpectedReply;
}

/** `*3 $kind $name :count`, redis's confirmation frame; a null name is redis's nil (nothing to unsubscribe). */
function confirmation(kind: string, name: Uint8Array | null, count: number): Uint8Array {
  const head = encoder.encode(`*3\r\n$${kind.length}\r\n${kind}\r\n`);
  const bulk = name === null
    ? encoder.encode("$-1\r\n")
    : concat([encoder.encode(`$${name.length}\r\n`), name, encoder.encode("\r\n")]);
  return concat([head, bulk, encoder.encode(`:${count}\r\n`)]);
}

/** redis's reply to PING while subscribed (PING takes no argument through the proxy). */
const PONG = encoder.encode("*2\r\n$4\r\npong\r\n$0\r\n\r\n");

export class Subscriptions {
  /** Channel (one char per byte) -> the server index it is subscribed on, in subscription order. */
  readonly #channels = new Map<string, number>();
  readonly #patterns = new Set<string>();
  readonly #pending: Pending[] = [];

  /** Subscribed to something, or confirmations are still to come. */
  get active(): boolean {
    return this.#channels.size + this.#patterns.size > 0 || this.#pending.length > 0;
  }

  get #count(): number {
    return this.#channels.size + this.#patterns.size;
  }

  /** A request while subscribed, or the SUBSCRIBE / PSUBSCRIBE that starts it. */
  request(req: RequestInfo, msg: Uint8Array, host: PinHost): void {
    const args = argsOf(msg, req.keys);
    switch (req.cmd) {
      case CMD.subscribe:
        for (const name of args) this.#subscribe(name, host);
        return;
      case CMD.psubscribe:
        for (const name of args) this.#psubscribe(name, host);
        return;
      case CMD.unsubscribe:
        this.#unsubscribe(args.length > 0 ? args : [...this.#channels.keys()].map(latin1Bytes), false, host);
        return;
      case CMD.punsubscribe:
        this.#unsubscribe(args.length > 0 ? args : [...this.#patterns].map(latin1Bytes), true, host);
        return;
      case CMD.ping:
        host.answer(PONG);
        return;
    }
    const name = COMMANDS[req.cmd].name;
    host.answer(errReply(
      `Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
    ));
  }

  #subscribe(name: Uint8Array, host: PinHost): void {
    const key = latin1(name);
    if (this.#channels.has(key)) {
      host.answer(confirmation("subscribe", name, this.#count));
      return;
    }
    const server = host.route(name, 0, name.length);
    const why = server < 0 ? "no live server" : host.sendRaw(server, command("subscribe", name));
    if (why !== null) {
      host.answer(errReply(`subscribe failed: ${why}`));
      return;
    }
    this.#channels.set(key, server);
    this.#expect("subscribe", key, 1, confirmation("subscribe", name, this.#count), host);
  }

  #psubscribe(name: Uint8Array, host: PinHost): void {
    const key = latin1(name);
    if (this.#patterns.has(key)) {
      host.answer(confirmation("psubscribe", name, this.#count));
      return;
    }
    const bytes = command("psubscribe", name);
    for (let s = 0; s < host.servers; s++) {
      const why = host.sendRaw(s, bytes);
      if (why !== null) {
        // Servers subscribed before the failure stay so until the client leaves: their
        // confirmations are still awaited, then dropped.
        if (s > 0) this.#expect("psubscribe", key, s, null, host);
        host.answer(errReply(`psubscribe failed: ${why}`));
        return;
      }
    }
    this.#patterns.add(key);
    this.#expect("psubscribe", key, host.servers, confirmation("psubscribe", name, this.#count), host);
  }

  #unsubscribe(names: Uint8Array[], patterns: boolean, host: PinHost): void {
    const kind = patterns ? "punsubscribe" : "unsubscribe";
    if (names.length === 0) host.answer(confirmation(kind, null, this.#count));
    for (const name of names) {
      const key = latin1(name);
      const server = patterns ? (this.#patterns.has(key) ? -1 : undefined) : this.#channels.get(key);
      if (server === undefined) { // not subscribed: redis confirms anyway
        host.answer(confirmation(kind, name, this.#count));
        continue;
      }
      if (patterns) this.#patterns.delete(key);
      else this.#channels.delete(key);
      const bytes = command(kind, name);
      let waits = 0;
      for (let s = 0; s < host.servers; s++) {
        if ((server < 0 || s === server) && host.sendRaw(s, bytes) === null) waits++;
      }
      this.#expect(kind, key, waits, confirmation(kind, name, this.#count), host);
    }
    if (this.#count === 0) {
      // The last subscription goes: what the client sends next is read once it is confirmed.
      host.release();
      host.hold();
    }
  }

  /** Queues the client's confirmation (null: none, the servers' are dropped) behind `waits` server ones. */
  #expect(kind: string, name: string, waits: number, frame: Uint8Array | null, host: PinHost): void {
    if (waits === 0) {
      if (frame !== null) host.answer(frame);
      return;
    }
    const slot = frame === null ? { reply: () => {}, fail: () => {} } : host.expect();
    this.#pending.push({ kind, name, waits, frame: frame ?? new Uint8Array(0), slot });
  }

  /** A frame from a subscribed server: a message goes to the client, a confirmation is counted. */
  frame(bytes: Uint8Array, host: PinHost): void {
    const parts = pushElements(bytes);
    if (parts === null || parts.length < 2) return;
    const kind = parts[0];
    if (isWord(kind, "message") || isWord(kind, "pmessage")) {
      host.answer(bytes.slice());
      return;
    }
    const name = latin1(parts[1]);
    const kindText = latin1(kind).toLowerCase();
    const at = this.#pending.findIndex((p) => p.kind === kindText && p.name === name);
    if (at < 0) return;
    const pending = this.#pending[at];
    if (--pending.waits > 0) return;
    this.#pending.splice(at, 1);
    pending.slot.reply(pending.frame);
  }

  /**
   * A subscribed server's connection is gone, and the subscriptions on it: the client gets an error
   * and is closed, so that it reconnects and subscribes again (as after a redis restart).
   */
  lost(host: PinHost): void {
    for (const p of this.#pending.splice(0)) p.slot.fail("subscribed server connection lost");
    this.#channels.clear();
    this.#patterns.clear();
    host.close("subscribed server connection lost");
  }
}
