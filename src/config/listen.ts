/** The `listen` directive: `host:port` (resolved when loading), or `/socket/path [octal permission]`. */
import { lookupAll } from "../core/resolve.ts";
import type { ListenConfig } from "./types.ts";
import { InvalidValue } from "./error.ts";
import { isValidPort, ncAtoi } from "./nc_atoi.ts";

/** `sizeof(sockaddr_un.sun_path)`: nutcracker refuses paths that do not fit with their NUL. */
const UNIX_PATH_MAX = 108;
const MAX_PERMISSION = 0o777;

/** glibc's gai_strerror texts for the errors node:dns reports, so messages match nutcracker's. */
const GAI_MESSAGES: Record<string, string> = {
  ENOTFOUND: "Name or service not known",
  EAI_NONAME: "Name or service not known",
  EAI_AGAIN: "Temporary failure in name resolution",
  EAI_FAIL: "Non-recoverable failure in name resolution",
  ENODATA: "No address associated with hostname",
  EAI_NODATA: "No address associated with hostname",
};

/**
 * Parses a `listen` value as nutcracker does: a value starting with `/` is a unix socket path with an
 * optional permission after the last space; anything else is split at the last `:` into host and
 * port, and the host is resolved now (first getaddrinfo result). Throws InvalidValue.
 */
export async function parseListen(value: string): Promise<ListenConfig> {
  if (value.startsWith("/")) return parseUnixListen(value);
  const colon = value.lastIndexOf(":");
  if (colon < 0) throw new InvalidValue('has an invalid "hostname:port" format string');
  const host = value.slice(0, colon);
  const port = ncAtoi(value.slice(colon + 1));
  if (!isValidPort(port)) throw new InvalidValue('has an invalid port in "hostname:port" format string');
  return { kind: "tcp", raw: value, host, port, address: await resolve(host, port) };
}

function parseUnixListen(value: string): ListenConfig {
  const space = value.lastIndexOf(" ");
  const path = space < 0 ? value : value.slice(0, space);
  const perm = space < 0 ? 0 : octalPermission(value.slice(space + 1));
  if (perm === null || perm > MAX_PERMISSION) {
    throw new InvalidValue('has an invalid file permission in "socket_path permission" format string');
  }
  if (new TextEncoder().encode(path).length >= UNIX_PATH_MAX) throw new InvalidValue("has an invalid value");
  return { kind: "unix", raw: value, path, perm };
}

/**
 * `(mode_t) strtol(text, NULL, 8)`: leading whitespace and a sign are accepted, parsing stops at the
 * first non-octal character (so `999` is 0, i.e. no permission), and the result is truncated to 32
 * bits. Returns null where strtol reports ERANGE.
 */
function octalPermission(text: string): number | null {
  const match = /^[ \t\n\v\f\r]*([+-]?)([0-7]*)/.exec(text)!;
  const magnitude = match[2] === "" ? 0n : BigInt(`0o${match[2]}`);
  const negative = match[1] === "-";
  if (magnitude > (negative ? 2n ** 63n : 2n ** 63n - 1n)) return null;
  return Number(BigInt.asUintN(32, negative ? -magnitude : magnitude));
}

/** First address of `host` (getaddrinfo order), or nutcracker's resolution error. */
async function resolve(host: string, port: number): Promise<string> {
  const failure = (reason: string) =>
    new InvalidValue(
      "has an invalid value",
      `address resolution of node '${host}' service '${port}' failed: ${reason}`,
    );
  // getaddrinfo rejects an empty node name; node:dns would answer without asking it.
  if (host === "") throw failure(GAI_MESSAGES.EAI_NONAME);
  let addresses: { address: string }[];
  try {
    addresses = await lookupAll(host);
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    throw failure(GAI_MESSAGES[code] ?? (e as Error).message);
  }
  if (addresses.length === 0) throw failure(GAI_MESSAGES.EAI_NODATA);
  return addresses[0].address;
}
