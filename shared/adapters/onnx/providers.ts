import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Which onnxruntime execution providers a session is created with. The evaluate job runs on a
 * Cloud Run L4, so it asks for CUDA first; the onnxruntime-node build on a laptop or CI has no CUDA
 * provider (creating a session with it fails: "Failed to load shared library"), and a GPU image on
 * a host without a GPU fails the same way. Either failure falls back to the CPU, and the provider
 * that actually created the session is reported, so a GPU job quietly running on the CPU shows up
 * in the evaluation report instead of only in its bill.
 */

/** What CUDA detection looks at; tests pass their own. */
export interface GpuProbe {
  exists(path: string): boolean;
  /** The PATH to search for nvidia-smi. */
  path: string | undefined;
}

const systemProbe: GpuProbe = { exists: existsSync, path: process.env.PATH };

/**
 * A GPU is visible when the NVIDIA device node exists (the driver exposes /dev/nvidia0 to the
 * container; Cloud Run mounts it into GPU instances) or nvidia-smi is on the PATH.
 */
export function gpuVisible(probe: GpuProbe = systemProbe): boolean {
  if (probe.exists("/dev/nvidia0")) return true;
  return (probe.path ?? "").split(delimiter).some((dir) => dir !== "" && probe.exists(join(dir, "nvidia-smi")));
}

/**
 * ONNX_EXECUTION_PROVIDERS → the providers to try, in order of preference. `auto`: CUDA then CPU
 * when a GPU is visible, else the CPU alone. An explicit list is used as given, with the CPU
 * appended as the last resort when it is missing.
 */
export function selectExecutionProviders(setting: string, hasGpu: () => boolean = () => gpuVisible()): string[] {
  if (setting.trim() === "auto") return hasGpu() ? ["cuda", "cpu"] : ["cpu"];
  const listed = [...new Set(setting.split(",").map((p) => p.trim()).filter(Boolean))];
  return listed.includes("cpu") ? listed : [...listed, "cpu"];
}

export interface OpenedWith<T> {
  value: T;
  /** The provider that created the session (the first of the list that worked). */
  provider: string;
  /** Why preferred providers were passed over ("cuda: Failed to load shared library"), in order. */
  fallbacks: string[];
}

/**
 * Opens a session with `providers`, then with the list minus its first entry, and so on until one
 * works: `open(["cuda", "cpu"])` uses CUDA where it can (onnxruntime assigns nodes CUDA lacks to the
 * CPU), `open(["cpu"])` is the fallback. The last list's error is thrown as it is (a broken model
 * fails on every provider; that is the error worth reporting).
 */
export async function openWithProviders<T>(providers: readonly string[], open: (providers: string[]) => Promise<T>): Promise<OpenedWith<T>> {
  if (providers.length === 0) throw new Error("openWithProviders needs at least one execution provider");
  const fallbacks: string[] = [];
  for (let i = 0; i < providers.length; i++) {
    const list = providers.slice(i);
    try {
      return { value: await open(list), provider: providers[i]!, fallbacks };
    } catch (err) {
      if (i === providers.length - 1) throw err;
      fallbacks.push(`${providers[i]}: ${(err as Error).message.replace(/\s+/g, " ").slice(0, 300)}`);
    }
  }
  throw new Error("unreachable");
}
