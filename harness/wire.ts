/** A raw TCP client for the harness and the tests: send bytes, then read exactly the replies a reply parser frames. */
import type { ReplyParser } from "../src/protocol/types.ts";

const encoder = new TextEncoder();

/** One client connection to a proxy or a backend. */
export class Wire {
  #buf = new Uint8Array(0);
  #eof = false;

  private constructor(readonly conn: Deno.Conn) {}

  static async connect(port: number): Promise<Wire> {
    return new Wire(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends a string (as UTF-8... tests use ASCII and \r\n) or raw bytes. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /**
   * Sends bytes in pieces of `size()` bytes (at least 1), yielding to the event loop after each so
   * that the peer sees the data arrive in many reads.
   */
  async sendInPieces(data: Uint8Array, size: () => number, pauseMs = 0): Promise<void> {
    for (let off = 0; off < data.length;) {
      const end = Math.min(data.length, off + Math.max(1, Math.floor(size())));
      await this.send(data.subarray(off, end));
      off = end;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /**
   * Reads until `count` complete replies are framed by `parser` (or EOF, or the timeout).
   * Returns the replies' bytes; `closed` tells whether the peer closed the connection.
   */
  async replies(
    parser: ReplyParser,
    count: number,
    timeoutMs = 5000,
  ): Promise<{ replies: Uint8Array[]; closed: boolean }> {
    const replies: Uint8Array[] = [];
    const deadline = Date.now() + timeoutMs;
    let start = 0;
    while (replies.length < count) {
      const len = start < this.#buf.length ? parser.parse(this.#buf, start, this.#buf.length) : 0;
      if (len < 0) {
        throw new Error(
          `unparseable reply: ${JSON.stringify(new TextDecoder().decode(this.#buf.subarray(start)))}`,
        );
      }
      if (len > 0) {
        replies.push(this.#buf.slice(start, start + len));
        start += len;
        continue;
      }
      if (this.#eof || !(await this.#fill(deadline))) break;
    }
    this.#buf = this.#buf.slice(start);
    return { replies, closed: this.#eof && this.#buf.length === 0 };
  }

  /** Reads whatever arrives until EOF or until nothing comes for `quietMs`. */
  async drain(quietMs = 300): Promise<{ bytes: Uint8Array; closed: boolean }> {
    while (!this.#eof && (await this.#fill(Date.now() + quietMs)));
    const bytes = this.#buf;
    this.#buf = new Uint8Array(0);
    return { bytes, closed: this.#eof };
  }

  /** True when the peer closes the connection within the timeout (bytes before it are kept). */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#eof && (await this.#fill(deadline)));
    return this.#eof;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Reads once more (until the deadline); false on timeout. */
  async #fill(deadline: number): Promise<boolean> {
    const wait = deadline - Date.now();
    if (wait <= 0) return false;
    const chunk = new Uint8Array(65536);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), wait));
    const read = this.#pending ??
      this.conn.read(chunk).then((n) => ({ n, chunk })).catch(() => ({ n: null, chunk }));
    this.#pending = read;
    const got = await Promise.race([read, timeout]);
    clearTimeout(timer);
    if (got === "timeout") return false;
    this.#pending = null;
    if (got.n === null) {
      this.#eof = true;
      return true;
    }
    // #buf is a view on the front of a store that doubles, so large replies cost linear time.
    const len = this.#buf.length;
    let store = new Uint8Array(this.#buf.buffer, this.#buf.byteOffset);
    if (len + got.n > store.length) {
      store = new Uint8Array(Math.max(2 * store.length, len + got.n, 65536));
      store.set(this.#buf);
    }
    store.set(got.chunk.subarray(0, got.n), len);
    this.#buf = store.subarray(0, len + got.n);
    return true;
  }

  #pending: Promise<{ n: number | null; chunk: Uint8Array }> | null = null;
}

/** Opens a client connection to `port`, runs `fn` with it and closes it. */
export async function withClient<T>(port: number, fn: (wire: Wire) => Promise<T>): Promise<T> {
  const wire = await Wire.connect(port);
  try {
    return await fn(wire);
  } finally {
    wire.close();
  }
}
