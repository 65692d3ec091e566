/** The `servers` entries of a pool: `host:port:weight [name]` or `/path:weight [name]`. */
import type { ServerConfig } from "./types.ts";
import { InvalidValue } from "./error.ts";
import { isValidPort, ncAtoi } from "./nc_atoi.ts";

/** libmemcached compatibility: servers on this port are named by their host alone. */
const KETAMA_PORT = 11211;

const FORMAT = '"hostname:port:weight [name]"';

/** Index of the last `ch` before `end`, or -1 (nutcracker's `nc_strrchr` over `[0, end)`). */
function lastIndexBefore(text: string, ch: string, end: number): number {
  return end <= 0 ? -1 : text.lastIndexOf(ch, end - 1);
}

/**
 * Parses a `servers` entry from the right as nutcracker does: the name after the last space, the
 * weight after the last `:`, then (TCP) the port after the next `:`; the host is what remains and
 * may itself contain `:`. Unnamed servers are named `host:port`, `host` on port 11211, and `path:`
 * (with the trailing colon nutcracker's parser leaves) for unix sockets. Throws InvalidValue.
 */
export function parseServer(value: string): ServerConfig {
  const unix = value.startsWith("/");
  let end = value.length;
  let name: string | null = null;
  const space = lastIndexBefore(value, " ", end);
  if (space >= 0) {
    name = value.slice(space + 1, end);
    end = space;
  }
  const weightColon = lastIndexBefore(value, ":", end);
  const portColon = lastIndexBefore(value, ":", weightColon);
  // A unix path may not contain ':'; a TCP entry needs both colons.
  if (weightColon < 0 || (portColon < 0) !== unix) {
    throw new InvalidValue(`has an invalid ${FORMAT}or "/path/unix_socket:weight [name]" format string`);
  }
  const weight = ncAtoi(value.slice(weightColon + 1, end));
  if (weight < 0) throw new InvalidValue(`has an invalid weight in ${FORMAT} format string`);
  if (weight === 0) throw new InvalidValue(`has a zero weight in ${FORMAT} format string`);
  const addrEnd = unix ? weightColon : portColon;
  const addr = value.slice(0, addrEnd);
  const port = unix ? 0 : ncAtoi(value.slice(portColon + 1, weightColon));
  if (!unix && !isValidPort(port)) throw new InvalidValue(`has an invalid port in ${FORMAT} format string`);
  // The default name is the literal text up to the port (unix: up to and including the colon).
  const defaultName = port === KETAMA_PORT ? addr : value.slice(0, unix ? weightColon + 1 : weightColon);
  return {
    raw: value,
    name: name ?? defaultName,
    kind: unix ? "unix" : "tcp",
    host: unix ? "" : addr,
    port,
    path: unix ? addr : "",
    weight,
  };
}

/** Whether a parsed entry was given a name (`host:port:weight name`) rather than its default one. */
export function hasExplicitName(server: ServerConfig): boolean {
  // parseServer takes the name after the entry's last space; without a space there is none.
  return server.raw.includes(" ");
}
