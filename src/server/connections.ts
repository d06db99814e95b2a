/**
 * The HTTP server's connection limits, against clients that hold sockets without asking
 * anything (idle keep-alives, a flood of connections) or ask slowly (headers byte by byte:
 * slow loris, a body that never ends). Node's http server enforces each; these are the
 * values `lmforge serve` gives it, and the options @hono/node-server's serve() passes on.
 */
import type { Server, ServerOptions } from 'node:http';

export interface ConnectionLimits {
  /** Sockets open at once; a connection beyond them is closed as it arrives. */
  readonly maxConnections: number;
  /** Seconds from a connection (or the end of the last request) to its request's full headers. */
  readonly headersTimeoutSeconds: number;
  /** Seconds to receive a whole request, body included (a streamed answer is not limited). */
  readonly requestTimeoutSeconds: number;
  /** Seconds an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutSeconds: number;
}

/** listen()'s backlog (the kernel caps it at net.core.somaxconn); node's default is 511. */
export const listenBacklog = 4096;

export const defaultConnectionLimits: ConnectionLimits = {
  maxConnections: 4096,
  headersTimeoutSeconds: 10,
  requestTimeoutSeconds: 30,
  keepAliveTimeoutSeconds: 5,
};

/**
 * The http.createServer options of the limits. Node checks the headers and request timeouts
 * every connectionsCheckingInterval (default 30 s): a tenth of the headers timeout, so that a
 * slow client is cut off close to its deadline.
 */
export function connectionServerOptions(limits: ConnectionLimits): ServerOptions {
  const headersTimeout = limits.headersTimeoutSeconds * 1000;
  return {
    headersTimeout,
    requestTimeout: limits.requestTimeoutSeconds * 1000,
    keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 10)),
  };
}

/**
 * What cannot be given at creation: the connection cap, and the headers timeout for a
 * connection that never sends a byte (node's own check starts with the first byte): its
 * socket times out (and is destroyed) after the headers timeout unless a request arrives;
 * once one does, the request's own limits and the keep-alive timeout take over, so a
 * streamed answer or a request waiting for a generation slot is never cut for silence.
 */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket) => socket.setTimeout(limits.headersTimeoutSeconds * 1000));
  server.on('request', (request) => request.socket.setTimeout(0));
}
