/** tsproxy's own version (the nutcracker it matches is 0.5.0), as tsproxy_build_info reports it. */
import type { BuildInfo } from "./metrics/exposition.ts";

export const VERSION = "0.1.0";

export const BUILD: BuildInfo = { version: VERSION, deno: Deno.version.deno, v8: Deno.version.v8 };
