import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A port for a server that a test starts later, usually in a child process.
 *
 * Asking the kernel for port 0 and closing it again races with every other test process: the
 * kernel hands the same ephemeral port to the next `listen(0)` (or outgoing connection) before the
 * child binds it, and the child dies with EADDRINUSE (seen in CI: the ingest bundle). So the port is
 * drawn at random from below the kernel's ephemeral range, where `listen(0)` and client sockets
 * never land, and checked free on every address. Two test processes can still draw the same port;
 * a caller that starts many servers (the bundle test) retries on `isAddressInUse`.
 */
export async function freePort(): Promise<number> {
  const [low, high] = [10_000, ephemeralLow()];
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in [${low}, ${high})`);
}

/** Whether a child's output or an error says its port was taken (Node's or Java's wording). */
export function isAddressInUse(text: string): boolean {
  return /EADDRINUSE|address already in use/i.test(text);
}

function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low && low > 12_000) return low;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152
  }
  return 32_768;
}

/** Listening on "::" covers IPv4 too where the host is dual-stack; hosts without IPv6 check 127.0.0.1. */
async function canListen(port: number): Promise<boolean> {
  for (const host of ["::", "127.0.0.1"]) {
    const result = await new Promise<"free" | "taken" | "unsupported">((resolve) => {
      const server = createServer();
      server.unref();
      server.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRINUSE" || e.code === "EACCES" ? "taken" : "unsupported"));
      server.listen({ port, host }, () => server.close(() => resolve("free")));
    });
    if (result !== "unsupported") return result === "free";
  }
  return false;
}
