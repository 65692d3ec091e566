/**
 * Host name resolution with getaddrinfo's answers (node:dns lookup). node:dns is loaded on first
 * use only: it brings Node's compatibility layer, about 5 MB of RSS that pools of plain addresses
 * never need.
 */

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/**
 * Whether a host is an address literal that resolves to itself: a canonical dotted quad (no
 * leading zeros, which getaddrinfo would read as octal) or anything with a colon (IPv6).
 */
export function isAddress(host: string): boolean {
  return IPV4.test(host) || host.includes(":");
}

/** Every address of `host`, in getaddrinfo's order; rejects with node's error (its `code` is the EAI_* name). */
export async function lookupAll(host: string): Promise<{ address: string }[]> {
  if (isAddress(host)) return [{ address: host }];
  const { lookup } = await import("node:dns/promises");
  return await lookup(host, { all: true, verbatim: true });
}
