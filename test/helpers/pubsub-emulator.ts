import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { freePort } from "./ports.ts";

/**
 * Starts the gcloud Pub/Sub emulator (Debian package google-cloud-cli-pubsub-emulator, Java) on a
 * free port in its own process group, and stops the whole group: the gcloud wrapper, its Python
 * child and the Java server are separate processes, and killing only the first leaks the others.
 */
export interface PubsubEmulator {
  /** `127.0.0.1:<port>`, the value for PUBSUB_EMULATOR_HOST / `apiEndpoint`. */
  host: string;
  projectId: string;
  stop(): Promise<void>;
}

/** Whether gcloud (and so, on the project's machines, the emulator) is installed here. */
export function gcloudAvailable(): boolean {
  const probe = spawnSync("gcloud", ["--version"], { stdio: "ignore", timeout: 30_000 });
  return probe.status === 0;
}

export async function startPubsubEmulator(projectId = "test-proj", timeoutMs = 90_000): Promise<PubsubEmulator> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    "gcloud",
    ["beta", "emulators", "pubsub", "start", `--host-port=${host}`, `--project=${projectId}`, "--quiet"],
    { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: "1" } },
  );
  let output = "";
  child.stdout?.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (output += c.toString()));

  const stop = async (): Promise<void> => {
    if (child.pid === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return; // the group is gone already
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already exited
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Pub/Sub emulator exited early (${child.exitCode}):\n${output.slice(-2000)}`);
    try {
      const res = await fetch(`http://${host}/v1/projects/${projectId}/topics`);
      if (res.ok) return { host, projectId, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  await stop();
  throw new Error(`Pub/Sub emulator did not start within ${timeoutMs} ms:\n${output.slice(-2000)}`);
}
