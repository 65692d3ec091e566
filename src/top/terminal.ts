/**
 * The terminal while top runs: raw keys, the alternate screen without a cursor, and putting both back.
 * Everything that touches the tty is here; what is drawn comes from render.ts.
 */

const ESC = "\x1b[";
const ENTER = `${ESC}?1049h${ESC}?25l`; // alternate screen, cursor hidden
const LEAVE = `${ESC}?25h${ESC}?1049l`; // cursor shown, main screen back
const encoder = new TextEncoder();

export class Terminal {
  #raw: boolean;
  #restored = false;

  /** Enters raw mode (when stdin is a terminal) and the alternate screen. */
  constructor() {
    this.#raw = Deno.stdin.isTerminal();
    if (this.#raw) Deno.stdin.setRaw(true);
    write(ENTER);
  }

  size(): { columns: number; rows: number } {
    return Deno.consoleSize();
  }

  /**
   * Draws `lines` from the top left, each on a row it erases first: erasing after a line that fills the
   * width would also erase its last column, where the cursor waits to wrap.
   */
  draw(lines: readonly string[]): void {
    const rows = lines.map((line, i) => `${ESC}${i + 1};1H${ESC}2K${line}`).join("");
    const below = lines.length < this.size().rows ? `${ESC}${lines.length + 1};1H${ESC}J` : "";
    write(rows + below);
  }

  /** Leaves the alternate screen, shows the cursor, ends raw mode; once, whatever calls it first. */
  restore(): void {
    if (this.#restored) return;
    this.#restored = true;
    write(LEAVE);
    if (this.#raw) Deno.stdin.setRaw(false);
  }
}

/** Resolves when q or Ctrl-C is typed (raw mode reads Ctrl-C as a byte); never if stdin ends or is no tty. */
export async function quitKey(): Promise<void> {
  if (!Deno.stdin.isTerminal()) return await new Promise(() => {});
  const buf = new Uint8Array(64);
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return await new Promise(() => {});
    if (buf.subarray(0, n).some((b) => b === 0x71 || b === 0x51 || b === 0x03)) return;
  }
}

/** Resolves with the number of the first of `signals` received. */
export function firstSignal(signals: Record<string, number>): Promise<number> {
  return new Promise((resolve) => {
    for (const [name, number] of Object.entries(signals)) {
      Deno.addSignalListener(name as Deno.Signal, () => resolve(number));
    }
  });
}

function write(text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}
