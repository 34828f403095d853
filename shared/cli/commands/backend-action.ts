import { join } from "node:path";
import { ConfigError, loadConfig, type Config } from "../../config/load.ts";
import { systemClock, silentLogger } from "../../adapters/basics.ts";
import type { CheckReport } from "../../adapters/encord/check.ts";
import { describeError } from "../../errors.ts";

/**
 * `mlops backend check [--json]`: proves the configured annotation backend is reachable and set
 * up. For Encord it runs seven steps (integration, project + workflow, class binding, dataset,
 * storage folder, legacy API, one label row; see adapters/encord/check.ts), for Label Studio five
 * (auth, project, labeling config, image access, one annotation; adapters/labelstudio/check.ts),
 * and names each failing one; for the local inbox it reports the folder. Exit code 0 when all is well, 1 when a
 * step fails, 2 for a configuration error.
 */

export interface BackendCheckIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

interface CheckOptions {
  json?: boolean;
}

/** The command's work, with its environment and output passed in; returns the exit code. */
export async function runBackendCheck(
  env: Record<string, string | undefined>,
  options: CheckOptions,
  io: BackendCheckIo,
  deps: { fetch?: typeof globalThis.fetch } = {},
): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : describeError(err);
    if (options.json) io.out(JSON.stringify({ ok: false, steps: [{ name: "configuration", ok: false, detail: message }] }));
    else io.err(message);
    return 2;
  }

  if (config.annotation.backend === "local") {
    const inbox = await localInboxLocation(config);
    const report: CheckReport = { ok: true, steps: [{ name: "local inbox", ok: true, detail: inbox }] };
    if (options.json) io.out(JSON.stringify({ backend: "local", ...report }));
    else io.out(`annotation backend: local folder inbox at ${inbox} (drop Encord label-row JSON or COCO files there)`);
    return 0;
  }

  if (config.annotation.backend === "labelstudio") {
    const { checkLabelStudio, formatLabelStudioReport } = await import("../../adapters/labelstudio/check.ts");
    const report = await checkLabelStudio(config, { log: silentLogger, clock: systemClock, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
    if (options.json) {
      io.out(JSON.stringify({ backend: "labelstudio", ...report }));
    } else {
      const { out, err } = formatLabelStudioReport(report, config.labelStudio.url ?? "");
      out.forEach(io.out);
      err.forEach(io.err);
    }
    return report.ok ? 0 : 1;
  }

  const { checkEncord, formatCheckReport } = await import("../../adapters/encord/check.ts");
  const report = await checkEncord(config, { log: silentLogger, clock: systemClock, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  if (options.json) {
    io.out(JSON.stringify({ backend: "encord", ...report }));
  } else {
    const { out, err } = formatCheckReport(report, config.encord.domain);
    out.forEach(io.out);
    err.forEach(io.err);
  }
  return report.ok ? 0 : 1;
}

async function localInboxLocation(config: Config): Promise<string> {
  const { INBOX_PREFIX } = await import("../../adapters/annotation/inbox-backend.ts");
  const bucket = config.buckets.annotation;
  // The local runtime keeps buckets as folders under the workspace (see runtime/job-deps.ts).
  return config.runtime === "local" ? join(config.workspace, "buckets", bucket, INBOX_PREFIX) : `gs://${bucket}/${INBOX_PREFIX}`;
}
