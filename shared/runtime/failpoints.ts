import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { isFailpointName, setFailpointAction, type FailpointName } from "../core/failpoints.ts";

/**
 * Arms failpoints from `MLOPS_FAILPOINTS`: a comma-separated list of `name` or `name@n` (fire at
 * the n-th time the place is reached; default the first). The process records which one fired in
 * `<workspace>/failpoints.fired` and kills itself with SIGKILL — no cleanup, no flush, exactly
 * what a machine failure or an OOM kill does. For crash testing only; never set in production.
 */
export function armFailpoints(spec: string | undefined, workspace: string): FailpointName[] {
  const armed = parseFailpoints(spec);
  if (armed.size === 0) return [];
  const hits = new Map<FailpointName, number>();
  setFailpointAction((name) => {
    const at = armed.get(name);
    if (at === undefined) return;
    const count = (hits.get(name) ?? 0) + 1;
    hits.set(name, count);
    if (count < at) return;
    appendFileSync(join(workspace, "failpoints.fired"), `${name}\n`);
    process.kill(process.pid, "SIGKILL");
  });
  return [...armed.keys()];
}

export function parseFailpoints(spec: string | undefined): Map<FailpointName, number> {
  const armed = new Map<FailpointName, number>();
  for (const part of (spec ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const [name = "", at = "1"] = part.split("@");
    if (!isFailpointName(name)) throw new Error(`MLOPS_FAILPOINTS: unknown failpoint "${name}"`);
    const n = Number(at);
    if (!Number.isInteger(n) || n < 1) throw new Error(`MLOPS_FAILPOINTS: "${part}": the hit count must be a positive integer`);
    armed.set(name, n);
  }
  return armed;
}
