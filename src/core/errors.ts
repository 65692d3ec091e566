/** nutcracker's error texts: glibc's strerror() wording for what a socket operation raised. */

/** Reason given when a server connection closed (EOF) with requests pending: nutcracker has no errno. */
export const EOF_REASON = "unknown";
export const TIMEOUT_REASON = "Connection timed out";
export const REFUSED_REASON = "Connection refused";
export const HOST_DOWN_REASON = "Host is down";
/** Unparseable or stray server replies, redis -LOADING/-BUSY/-OOM, failed fragments' replies. */
export const INVALID_REASON = "Invalid argument";

const BY_CLASS: [new (...a: never[]) => Error, string][] = [
  [Deno.errors.ConnectionRefused, REFUSED_REASON],
  [Deno.errors.ConnectionReset, "Connection reset by peer"],
  [Deno.errors.ConnectionAborted, "Software caused connection abort"],
  [Deno.errors.BrokenPipe, "Broken pipe"],
  [Deno.errors.TimedOut, TIMEOUT_REASON],
  [Deno.errors.NotFound, "No such file or directory"],
  [Deno.errors.PermissionDenied, "Permission denied"],
  [Deno.errors.AddrNotAvailable, "Cannot assign requested address"],
  [Deno.errors.NotConnected, "Transport endpoint is not connected"],
];

/** Raised when a server's host name does not resolve: requests then fail with "Host is down". */
export class HostDownError extends Error {
  constructor(host: string) {
    super(`${host}: ${HOST_DOWN_REASON}`);
  }
}

/** strerror()-style text for an error thrown by Deno.connect/read/write. */
export function socketErrorReason(err: unknown): string {
  if (err instanceof HostDownError) return HOST_DOWN_REASON;
  for (const [cls, text] of BY_CLASS) if (err instanceof cls) return text;
  const code = (err as { code?: string })?.code;
  if (code === "ENETUNREACH") return "Network is unreachable";
  if (code === "EHOSTUNREACH") return "No route to host";
  return EOF_REASON;
}

/** A bug in the proxy's handling of one request: that request fails with this, and an error line is logged. */
export const INTERNAL_REASON = "internal proxy error";

/** getaddrinfo's words (gai_strerror) for a failed host name lookup (node:dns error codes). */
export function resolveErrorReason(err: unknown): string {
  switch ((err as { code?: string })?.code) {
    case "ENOTFOUND":
      return "Name or service not known";
    case "EAI_AGAIN":
      return "Temporary failure in name resolution";
    case "ENODATA":
      return "No address associated with hostname";
    default:
      return errorMessage(err);
  }
}

/** An error's message without Deno's ` (os error N)` suffix, as strerror() would word it. */
export function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/ \(os error \d+\)$/, "");
}

/** A request still unanswered when a graceful stop's deadline passed (tsproxy's own, no errno). */
export const SHUTDOWN_REASON = "proxy is shutting down";
/** A request not yet written when its server's master moved (a Sentinel failover): it was never sent. */
export const MOVED_REASON = "master moved by a failover, request not sent";
/** read_from: replica, and no replica of the key's server is live and in sync. */
export const NO_REPLICA_REASON = "no replica available";
