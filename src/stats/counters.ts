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
