/** The work of `mlops dataset pull` and `mlops runs compare` (data.ts declares them). */
import { resolve } from "node:path";
import { PULL_FORMATS, type PullFormat, type PullSplit } from "../../adapters/datasets/pull.ts";
import { objectUri } from "../../core/uri.ts";
import { versionPrefix } from "../../core/datasets/manifest.ts";
import type { Config } from "../../config/load.ts";
import type { RunDetail } from "../../db/queries/pages.ts";
import { readStatus, readViaRuntimeOrDb } from "../workspace.ts";
export { configFromEnv } from "../workspace.ts";
import { CliError } from "../errors.ts";
import { compareRuns, formatRunComparison } from "../../core/runs/compare.ts";

import type { DataCliIo } from "./data.ts";
import { archiveStore } from "./ops-action.ts";

/** `mlops runs compare A B`. */
export async function runRunsCompare(config: Config, a: string, b: string, opts: { json?: boolean }, io: DataCliIo): Promise<void> {
  const [runA, runB] = await Promise.all([readRun(config, a), readRun(config, b)]);
  const store = await archiveStore(config);
  const comparison = await compareRuns(runA, runB, async (uri) => JSON.parse((await store.get(uri)).toString("utf8")) as unknown);
  io.stdout(opts.json ? `${JSON.stringify(comparison)}\n` : formatRunComparison(comparison));
}

async function readRun(config: Config, id: string): Promise<RunDetail> {
  const run = await readViaRuntimeOrDb(config, `/api/runs/${encodeURIComponent(id)}`, async (db) => (await import("../../db/queries/pages.ts")).readRunDetail(db, id));
  if (!run) throw new CliError(`no training run ${id}`);
  return run;
}

export async function runDatasetPull(
  config: Config,
  version: string,
  opts: { out: string; format: string; split: string; line?: string; json?: boolean },
  io: DataCliIo,
): Promise<void> {
  const formats = opts.format.split(",").map((f) => f.trim()).filter(Boolean);
  const unknown = formats.filter((f) => !(PULL_FORMATS as readonly string[]).includes(f));
  if (unknown.length || formats.length === 0) throw new CliError(`--format takes ${PULL_FORMATS.join(", ")} (comma-separated), got ${opts.format}`);
  if (!["train", "eval", "all"].includes(opts.split)) throw new CliError(`--split takes train, eval or all, got ${opts.split}`);
  const { versionId, manifestUri } = await resolveVersion(config, version, opts.line ?? config.threshold.line);
  const store = await archiveStore(config);
  const { pullDataset } = await import("../../adapters/datasets/pull.ts");
  const started = Date.now();
  let lastPrinted = -1;
  const result = await pullDataset({
    store, manifestUri, versionId, outDir: resolve(opts.out), formats: formats as PullFormat[], split: opts.split as PullSplit,
    onProgress: (p) => {
      // Every file on a terminal (one redrawn line), else every tenth of the way.
      const step = Math.max(1, Math.ceil(p.totalFiles / 10));
      if (!io.stderrIsTty && p.files !== p.totalFiles && p.files - lastPrinted < step) return;
      lastPrinted = p.files;
      const line = `pull ${versionId.slice(0, 12)}: ${p.files}/${p.totalFiles} files verified, ${formatBytes(p.bytes)}`;
      io.stderr(io.stderrIsTty ? `\r${line}${p.files === p.totalFiles ? "\n" : ""}` : `${line}\n`);
    },
  });
  const summary = {
    versionId, manifestUri, out: resolve(opts.out), formats, split: opts.split, items: result.items, files: result.files, bytes: result.bytes,
    coco: result.cocoPath, seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  if (opts.json) io.stdout(`${JSON.stringify(summary)}\n`);
  else {
    io.stdout(`pulled dataset ${versionId} (${result.manifest.line} v${result.manifest.seq}): ${result.items} items, ${result.files} files, ${formatBytes(result.bytes)}, every SHA-256 verified\n`);
    if (result.cocoPath) io.stdout(`COCO: ${result.cocoPath} (mlops metrics coco --gt ${result.cocoPath} --dt <detections.json>)\n`);
  }
}

/** A version argument → its id and manifest URI (a full id needs no database: the path is fixed). */
async function resolveVersion(config: Config, version: string, line: string): Promise<{ versionId: string; manifestUri: string }> {
  const fromUri = /^gs:\/\/[^/]+\/(?:.+\/)?([0-9a-f]{64})\/manifest\.json$/.exec(version);
  if (fromUri) return { versionId: fromUri[1]!, manifestUri: version };
  if (/^[0-9a-f]{64}$/.test(version)) return { versionId: version, manifestUri: objectUri(config.buckets.datasets, `${versionPrefix(line, version)}manifest.json`) };
  const snapshot = await readStatus(config);
  const versions = snapshot.datasetVersions.filter((v) => v.line === line);
  const match = version === "latest"
    ? versions.sort((a, b) => b.seq - a.seq).slice(0, 1)
    : versions.filter((v) => /^[0-9a-f]{4,}$/.test(version) && v.id.startsWith(version));
  if (match.length === 0) throw new CliError(version === "latest" ? `line ${line} has no dataset version yet` : `no dataset version ${version} on line ${line}`);
  if (match.length > 1) throw new CliError(`${version} matches ${match.length} versions: give more of the id`);
  return { versionId: match[0]!.id, manifestUri: match[0]!.manifestUri };
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
