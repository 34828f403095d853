import { readFileSync } from "node:fs";

/**
 * This process's peak resident set size, in bytes: on Linux the high-water mark of its own memory
 * (VmHWM in /proc/self/status). Not `process.resourceUsage().maxRSS` (getrusage's ru_maxrss) in a
 * child process: Linux carries the parent's resident size at fork across exec into it, so a 40 MB
 * child of a 300 MB benchmark process reports 300 MB. Elsewhere ru_maxrss is all there is.
 */
export function peakRssBytes(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
