/**
 * A small RESP2 client for the proxy's own talks with sentinels and replicas (never the data path):
 * commands pipelined on one connection with their replies matched first in, first out, and pub/sub.
 *
 * Bulk and simple strings are decoded as UTF-8 (invalid bytes become U+FFFD): what is read here
 * (sentinel answers, INFO) is text, and host names and master names are ASCII.
 */
import { errorMessage } from "../core/errors.ts";

/** An error reply (`-ERR ...`): a value, not thrown. */
export class RespError {
  constructor(readonly message: string) {}
}

/** A decoded reply: strings, integers, nil (null bulk or null array), arrays and error replies. */
export type RespValue = string | number | null | RespValue[] | RespError;

/** Bytes that are not RESP2. */
export class RespProtocolError extends Error {}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A command as a RESP array of bulk strings (UTF-8). */
export function encodeCommand(args: readonly string[]): Uint8Array {
  return encoder.encode(
    `*${args.length}\r\n` + args.map((a) => `$${encoder.encode(a).length}\r\n${a}\r\n`).join(""),
  );
}

/** Decodes replies from bytes that may arrive split anywhere. */
export class RespDecoder {
  #buf: Uint8Array = new Uint8Array(0);

  /** Adds bytes (kept, not copied) and returns every reply they complete. Throws RespProtocolError. */
  push(chunk: Uint8Array): RespValue[] {
    this.#buf = this.#buf.length === 0 ? chunk : join(this.#buf, chunk);
    const out: RespValue[] = [];
    let at = 0;
    for (;;) {
      const got = parse(this.#buf, at);
      if (got === null) break;
      out.push(got.value);
      at = got.next;
    }
    this.#buf = this.#buf.subarray(at);
    return out;
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One reply starting at `at`, or null when its bytes have not all arrived. */
function parse(buf: Uint8Array, at: number): { value: RespValue; next: number } | null {
  const eol = lineEnd(buf, at + 1);
  if (eol < 0) return null;
  const line = decoder.decode(buf.subarray(at + 1, eol));
  const next = eol + 2;
  switch (buf[at]) {
    case 43: // '+'
      return { value: line, next };
    case 45: // '-'
      return { value: new RespError(line), next };
    case 58: // ':'
      return { value: integer(line), next };
    case 36: { // '$'
      const len = integer(line);
      if (len < 0) return { value: null, next };
      if (buf.length < next + len + 2) return null;
      if (buf[next + len] !== 13 || buf[next + len + 1] !== 10) {
        throw new RespProtocolError("bulk string not followed by CRLF");
      }
      return { value: decoder.decode(buf.subarray(next, next + len)), next: next + len + 2 };
    }
    case 42: { // '*'
      const count = integer(line);
      if (count < 0) return { value: null, next };
      const items: RespValue[] = [];
      let from = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, from);
        if (item === null) return null;
        items.push(item.value);
        from = item.next;
      }
      return { value: items, next: from };
    }
    default:
      throw new RespProtocolError(`unexpected reply type byte ${buf[at]}`);
  }
}

/** Index of the CR of the next CRLF at or after `from`, -1 when it has not arrived yet. */
function lineEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) {
    if (buf[i] === 13) {
      if (buf[i + 1] !== 10) throw new RespProtocolError("CR without LF");
      return i;
    }
  }
  return -1;
}

function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new RespProtocolError(`not an integer: ${JSON.stringify(text)}`);
  return Number(text);
}

interface Pending {
  /** Replies this entry takes: 1 for a command, one per channel for SUBSCRIBE. */
  expect: number;
  got: RespValue[];
  resolve(replies: RespValue[]): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One connection. Every command must be answered within the connection's timeout: a late reply, a
 * socket error or bytes that are not RESP close the connection, and every pending command rejects.
 * Error messages do not name the server: the caller knows which one it asked.
 */
export class RespConnection {
  /** Settles (never rejects) once the socket is closed and its read has ended, for any reason. */
  readonly closed: Promise<void>;
  #conn: Deno.Conn;
  #timeoutMs: number;
  #decoder = new RespDecoder();
  #pending: Pending[] = [];
  #writing: Promise<void> = Promise.resolve();
  #onMessage: ((channel: string, message: string) => void) | null = null;
  #closeReason: string | null = null;

  private constructor(conn: Deno.Conn, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.closed = this.#read();
  }

  /** Connects within `timeoutMs`, which is also each command's timeout. */
  static async open(host: string, port: number, timeoutMs: number): Promise<RespConnection> {
    const connecting = Deno.connect({ hostname: host, port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const conn = await Promise.race([connecting, timeout]);
      conn.setNoDelay(true);
      return new RespConnection(conn, timeoutMs);
    } catch (e) {
      // A connect that completes after the timeout is closed, and its failure is not left unhandled.
      connecting.then((c) => c.close(), () => {});
      throw new Error(`connect failed: ${errorMessage(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why the connection closed, null while it is open. */
  get closeReason(): string | null {
    return this.#closeReason;
  }

  /** Sends a command; its reply (an error reply resolves as a RespError). Rejects when the connection fails. */
  async command(...args: string[]): Promise<RespValue> {
    return (await this.#send(encodeCommand(args), 1))[0];
  }

  /**
   * SUBSCRIBE: resolves once every channel is confirmed. From then on the connection is in pub/sub
   * mode: `onMessage` gets each message, and only commands that redis allows there may be sent.
   */
  async subscribe(channels: string[], onMessage: (channel: string, message: string) => void): Promise<void> {
    this.#onMessage = onMessage;
    const replies = await this.#send(encodeCommand(["SUBSCRIBE", ...channels]), channels.length);
    for (const r of replies) {
      if (!Array.isArray(r) || r[0] !== "subscribe") {
        throw new Error(`SUBSCRIBE answered ${show(r)}`);
      }
    }
  }

  /** Closes the socket; pending commands reject. */
  close(): void {
    this.#fail("closed");
  }

  #send(bytes: Uint8Array, expect: number): Promise<RespValue[]> {
    if (this.#closeReason !== null) {
      return Promise.reject(new Error(`connection ${this.#closeReason}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(`timed out: no reply within ${this.#timeoutMs} ms`),
        this.#timeoutMs,
      );
      this.#pending.push({ expect, got: [], resolve, reject, timer });
      // Writes are chained so that pipelined commands never interleave on the socket.
      this.#writing = this.#writing.then(async () => {
        for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
      }).catch((e) => this.#fail(`write failed: ${errorMessage(e)}`));
    });
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(16384);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) return this.#fail("closed by peer");
        for (const reply of this.#decoder.push(buf.slice(0, n))) this.#deliver(reply);
      }
    } catch (e) {
      this.#fail(
        e instanceof RespProtocolError ? `protocol error: ${e.message}` : `read failed: ${errorMessage(e)}`,
      );
    }
  }

  #deliver(reply: RespValue): void {
    if (this.#onMessage !== null && Array.isArray(reply) && reply[0] === "message" && reply.length === 3) {
      this.#onMessage(String(reply[1]), String(reply[2]));
      return;
    }
    const head = this.#pending[0];
    if (head === undefined) throw new RespProtocolError(`reply nobody asked for: ${show(reply)}`);
    head.got.push(reply);
    if (head.got.length < head.expect) return;
    this.#pending.shift();
    clearTimeout(head.timer);
    head.resolve(head.got);
  }

  #fail(reason: string): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`connection ${reason}`));
    }
  }
}

/** A reply, short, for error messages. */
export function show(v: RespValue): string {
  if (v instanceof RespError) return `-${v.message}`;
  return JSON.stringify(v).slice(0, 200);
}
