/** One read of the admin endpoint's /metrics, or an error that says in a line why there is none. */
import type { Scrape } from "./model.ts";
import { parsePromText } from "./prom_text.ts";

/** Fetches and parses `url`; throws an Error whose message is fit for the screen. */
export async function scrape(url: string, timeoutMs: number): Promise<Scrape> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (e) {
    throw new Error(`cannot reach ${url}: ${reason(e, timeoutMs)}`);
  }
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status} ${res.statusText}`.trim());
  try {
    return { families: parsePromText(text), monoMs: performance.now(), wallSeconds: Date.now() / 1000 };
  } catch (e) {
    throw new Error(`${url} served metrics top cannot read: ${(e as Error).message}`);
  }
}

/** The useful end of a fetch error: Deno's cause reads "error sending request ...: tcp connect error: <why>". */
function reason(e: unknown, timeoutMs: number): string {
  if (e instanceof DOMException && e.name === "TimeoutError") return `no answer within ${timeoutMs / 1000}s`;
  const err = e as Error;
  const detail = err.cause instanceof Error ? err.cause.message : err.message;
  return detail.split(": ").at(-1) ?? detail;
}
