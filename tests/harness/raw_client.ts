/**
 * A raw test client for the fake-backend tests: sends bytes, collects what comes back as a latin1
 * string, and tells EOF from silence. Every wait is bounded; `close()` leaves no pending op.
 */
import { fromLatin1, latin1 } from "../../harness/bytes.ts";

/** Where to connect: a loopback TCP port or a unix socket path. */
export type Target = { port: number } | { path: string };

/** One client connection with a background reader. */
export class RawClient {
  readonly #conn: Deno.Conn;
  readonly #reader: Promise<void>;
  #data = "";
  #eof = false;
  #wake: (() => void) | null = null;

  private constructor(conn: Deno.Conn) {
    // Each send goes out on its own, so "split at every byte" really arrives in pieces.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    this.#conn = conn;
    this.#reader = this.#read();
  }

  /** Connects to a fake or a real server. */
  static async open(target: Target): Promise<RawClient> {
    const conn = "path" in target
      ? await Deno.connect({ transport: "unix", path: target.path })
      : await Deno.connect({ hostname: "127.0.0.1", port: target.port });
    return new RawClient(conn);
  }

  /** Whether the server has closed its side. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Sends bytes (a string is taken as latin1). */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? fromLatin1(data) : data;
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Waits until the received bytes satisfy `done`, then returns and forgets them. */
  async until(done: (received: string) => boolean, timeoutMs = 5000): Promise<string> {
    if (!await this.#wait(() => done(this.#data), timeoutMs)) {
      throw new Error(
        `no complete reply (eof: ${this.#eof}); got ${JSON.stringify(this.#data.slice(0, 300))}`,
      );
    }
    return this.#take();
  }

  /** Waits `ms` (or until EOF) and returns whatever arrived meanwhile. */
  async quiet(ms: number): Promise<string> {
    await this.#wait(() => false, ms);
    return this.#take();
  }

  /** Waits for the server to close, returning what it sent before; throws on timeout. */
  async closed(timeoutMs = 5000): Promise<string> {
    if (!await this.#wait(() => this.#eof, timeoutMs)) throw new Error("connection still open");
    return this.#take();
  }

  /** Closes the connection and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#reader;
  }

  #take(): string {
    const data = this.#data;
    this.#data = "";
    return data;
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.#data += latin1(buf.subarray(0, n));
        this.#wake?.();
      }
    } catch {
      // Reset, or closed by close().
    }
    this.#eof = true;
    this.#wake?.();
  }

  /** True once `cond` holds; false on timeout or at EOF without it. */
  async #wait(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (this.#eof || left <= 0) return cond();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.#wake?.(), left);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = null;
          resolve();
        };
      });
    }
    return true;
  }
}
