/** The counters nutcracker keeps per pool and per server, updated live by the proxy core. */

/** Pool metrics, in nutcracker's stats order. */
export class PoolStats {
  client_eof = 0;
  client_err = 0;
  client_connections = 0;
  server_ejects = 0;
  forward_error = 0;
  /** Counted truly (nutcracker 0.5.0 leaves it at 0). */
  fragments = 0;
}

/** Server metrics, in nutcracker's stats order. */
export class ServerStats {
  server_eof = 0;
  server_err = 0;
  server_timedout = 0;
  server_connections = 0;
  /** µs since epoch of the last ejection, 0 if never. */
  server_ejected_at = 0;
  requests = 0;
  request_bytes = 0;
  responses = 0;
  response_bytes = 0;
  in_queue = 0;
  in_queue_bytes = 0;
  out_queue = 0;
  out_queue_bytes = 0;
}

/** Process-wide connection counts for the stats header. */
export const connectionCounts = {
  /** Every connection object ever created: listeners, clients, server connections. */
  total: 0,
  /** Currently open listeners, clients and server connections. */
  current: 0,
};

/** One stats field: its name, nutcracker's description (`-D`), and whether it only grows. */
export interface StatField {
  name: string;
  help: string;
  kind: "counter" | "gauge";
}

/** The pool fields as nutcracker describes them, in its order. */
export const POOL_FIELDS: readonly StatField[] = [
  { name: "client_eof", help: "# eof on client connections", kind: "counter" },
  { name: "client_err", help: "# errors on client connections", kind: "counter" },
  { name: "client_connections", help: "# active client connections", kind: "gauge" },
  { name: "server_ejects", help: "# times backend server was ejected", kind: "counter" },
  { name: "forward_error", help: "# times we encountered a forwarding error", kind: "counter" },
  { name: "fragments", help: "# fragments created from a multi-vector request", kind: "counter" },
];

/** The server fields as nutcracker describes them, in its order. */
export const SERVER_FIELDS: readonly StatField[] = [
  { name: "server_eof", help: "# eof on server connections", kind: "counter" },
  { name: "server_err", help: "# errors on server connections", kind: "counter" },
  { name: "server_timedout", help: "# timeouts on server connections", kind: "counter" },
  { name: "server_connections", help: "# active server connections", kind: "gauge" },
  { name: "server_ejected_at", help: "timestamp when server was ejected in usec since epoch", kind: "gauge" },
  { name: "requests", help: "# requests", kind: "counter" },
  { name: "request_bytes", help: "total request bytes", kind: "counter" },
  { name: "responses", help: "# responses", kind: "counter" },
  { name: "response_bytes", help: "total response bytes", kind: "counter" },
  { name: "in_queue", help: "# requests in incoming queue", kind: "gauge" },
  { name: "in_queue_bytes", help: "current request bytes in incoming queue", kind: "gauge" },
  { name: "out_queue", help: "# requests in outgoing queue", kind: "gauge" },
  { name: "out_queue_bytes", help: "current request bytes in outgoing queue", kind: "gauge" },
];
