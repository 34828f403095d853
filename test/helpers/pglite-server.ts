/**
 * PGlite behind a TCP socket speaking the Postgres wire protocol, so that a child process (a
 * built function bundle with `DATABASE_URL`) can use the test's in-memory database through `pg`.
 *
 * PGlite is one backend session; `execProtocolRaw` takes frontend protocol messages and returns the
 * backend's answer (the way @electric-sql/pglite-socket serves it). Several client connections
 * (a pool) share that session safely because a connection holds PGlite's exclusive lock from its
 * first message until a ReadyForQuery that says "idle" (status `I`): a transaction block (`T`, `E`)
 * or an extended-protocol exchange before its Sync keeps the lock, so connections never interleave
 * inside a transaction. The startup exchange is answered here (no authentication, like `trust`).
 * Wire format: postgresql.org/docs/current/protocol-message-formats.html.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { PGlite } from "@electric-sql/pglite";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

export interface PgliteServer {
  url: string;
  close(): Promise<void>;
}

export async function startPgliteServer(pglite: PGlite): Promise<PgliteServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    serveConnection(pglite, socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveConnection(pglite: PGlite, socket: Socket): void {
  let buffer = Buffer.alloc(0);
  let started = false;
  let release: (() => void) | null = null;
  let chain = Promise.resolve();

  const acquire = () =>
    new Promise<void>((held) => {
      void pglite.runExclusive(
        () =>
          new Promise<void>((done) => {
            release = () => {
              release = null;
              done();
            };
            held();
          }),
      );
    });

  const exec = async (messages: Buffer): Promise<void> => {
    if (!release) await acquire();
    const out = Buffer.from(await pglite.execProtocolRaw(new Uint8Array(messages)));
    if (!socket.destroyed) socket.write(out);
    const status = lastReadyStatus(out);
    if (status === "I") release?.();
  };

  const rollbackAndRelease = async (): Promise<void> => {
    if (!release) return;
    // The client went away inside a transaction: end it so the next connection starts clean.
    await pglite.execProtocolRaw(new Uint8Array(queryMessage("ROLLBACK"))).catch(() => undefined);
    release?.();
  };

  const handle = async (): Promise<void> => {
    if (!started) {
      if (buffer.length < 8) return;
      const length = buffer.readInt32BE(0);
      if (buffer.length < length) return;
      const code = buffer.readInt32BE(4);
      buffer = buffer.subarray(length);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        socket.write("N");
        return handle();
      }
      if (code === CANCEL_REQUEST) {
        socket.end();
        return;
      }
      started = true;
      socket.write(startupReply());
      return handle();
    }
    // Forward every complete message at once (a pipelined Parse/Bind/Execute/Sync stays together).
    let end = 0;
    let terminate = false;
    while (buffer.length - end >= 5) {
      const length = buffer.readInt32BE(end + 1);
      if (buffer.length - end < length + 1) break;
      if (buffer[end] === 0x58 /* X: Terminate */) {
        terminate = true;
        break;
      }
      end += length + 1;
    }
    const messages = buffer.subarray(0, end);
    buffer = buffer.subarray(end);
    if (messages.length > 0) await exec(messages);
    if (terminate) {
      await rollbackAndRelease();
      socket.end();
    }
  };

  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    chain = chain.then(handle).catch(() => {
      socket.destroy();
    });
  });
  socket.on("close", () => {
    chain = chain.then(rollbackAndRelease);
  });
  socket.on("error", () => socket.destroy());
}

/** AuthenticationOk, the parameters `pg` looks at, BackendKeyData, ReadyForQuery(idle). */
function startupReply(): Buffer {
  const parts: Buffer[] = [message("R", int32(0))];
  for (const [k, v] of [["server_version", "16.0"], ["server_encoding", "UTF8"], ["client_encoding", "UTF8"], ["DateStyle", "ISO, MDY"], ["integer_datetimes", "on"], ["standard_conforming_strings", "on"], ["TimeZone", "UTC"]]) {
    parts.push(message("S", Buffer.concat([cstring(k!), cstring(v!)])));
  }
  parts.push(message("K", Buffer.concat([int32(process.pid), int32(1)])));
  parts.push(message("Z", Buffer.from("I")));
  return Buffer.concat(parts);
}

/** The transaction status of the last ReadyForQuery in a backend reply, if any. */
function lastReadyStatus(out: Buffer): string | null {
  let status: string | null = null;
  let at = 0;
  while (out.length - at >= 5) {
    const length = out.readInt32BE(at + 1);
    if (out[at] === 0x5a /* Z */ && length === 5) status = String.fromCharCode(out[at + 5]!);
    at += length + 1;
  }
  return status;
}

function queryMessage(sql: string): Buffer {
  return message("Q", cstring(sql));
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
}
