/**
 * `npm run build:cli` (and `prepare`, so `npm ci` / `npm install` run it): compiles the `mlops`
 * command to plain JavaScript in dist/cli/, so `bin/mlops.js` starts without compiling TypeScript.
 *
 * - One ESM entry (shared/cli/main.ts) with code splitting: each command's `-action.ts` module is
 *   imported dynamically and becomes its own chunk, so `mlops --help` reads only the small entry.
 * - Dependencies stay in node_modules (`packages: "external"`): the same copies the TypeScript
 *   sources use, native addons and data files included.
 * - Source files that find files relative to themselves (`new URL("./migrations/", import.meta.url)`)
 *   keep working: their `import.meta.url` is rewritten to the source file's own URL, computed from
 *   the chunk's location, so the bundle still finds shared/db/migrations/ and the job entrypoints.
 * - dist/cli/sources.json lists every compiled source file with its size and mtime; bin/mlops.js
 *   runs the TypeScript through tsx instead when any of them changed (editing needs no rebuild).
 *
 * Without esbuild (an install with --omit=dev) it builds nothing and says so: bin/mlops.js then
 * runs the sources through tsx, as before.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// Types only (erased): the build still runs, and says why it skips, where esbuild is absent.
import type * as Esbuild from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CLI_OUTDIR = join(ROOT, "dist", "cli");

/**
 * Left in node_modules: native addons and packages that read their own files (sharp, onnxruntime,
 * PGlite's WASM, geotiff), pino (its transports start worker files by path), the cloud SDKs (loaded
 * only on GCP) and our build tools. The rest (zod, commander, fflate, …) is bundled: one file
 * read instead of a tree of small modules at every start.
 */
export const CLI_EXTERNALS = [
  "sharp",
  "onnxruntime-node",
  "@electric-sql/pglite",
  "geotiff",
  "pg",
  "pg-native",
  "pino",
  "@google-cloud/*",
  "@slack/*",
  "protobufjs",
  "tsx",
  "esbuild",
];

export interface CliBuild {
  outdir: string;
  sources: number;
  bytes: number;
}

/** Builds into dist/cli/ (what bin/mlops.js runs), or into `outdir` (tests). */
export async function buildCli(options: { log?: (line: string) => void; outdir?: string } = {}): Promise<CliBuild | null> {
  const log = options.log ?? ((line: string) => console.log(line));
  const outdir = options.outdir ?? CLI_OUTDIR;
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import("esbuild");
  } catch {
    log("build-cli: esbuild is not installed (--omit=dev?): `mlops` will run its TypeScript through tsx");
    return null;
  }
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { main: join(ROOT, "shared", "cli", "main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: CLI_EXTERNALS,
    // Bundled CommonJS dependencies (commander) still call require() for Node's built-ins.
    banner: { js: `import { createRequire as __mlopsCreateRequire } from "node:module";\nconst require = __mlopsCreateRequire(import.meta.url);` },
    chunkNames: "[name]-[hash]",
    metafile: true,
    logLevel: "error",
    legalComments: "none",
    keepNames: true,
    plugins: [sourceRelativeImportMeta(outdir)],
  });
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.includes("node_modules/"));
  const sources = await Promise.all(
    inputs.map(async (p) => {
      const s = await stat(join(ROOT, p));
      return [p, s.size, s.mtimeMs] as const;
    }),
  );
  await writeFile(join(outdir, "sources.json"), `${JSON.stringify({ builtAt: new Date().toISOString(), sources })}\n`);
  // Marks the folder as ESM for Node even where the root package.json is not next to it.
  await writeFile(join(outdir, "package.json"), `${JSON.stringify({ type: "module", private: true })}\n`);
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith(".js"))
    .reduce((n, [, o]) => n + o.bytes, 0);
  log(`cli: ${sources.length} sources → ${relative(ROOT, outdir)} (${Object.keys(result.metafile.outputs).length} chunks, ${(bytes / 1024).toFixed(0)} KiB)`);
  return { outdir, sources: sources.length, bytes };
}

/** Rewrites `import.meta.url` in our sources to the source file's URL, relative to the output chunk. */
function sourceRelativeImportMeta(outdir: string): Esbuild.Plugin {
  return {
    name: "source-relative-import-meta",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes("node_modules")) return undefined;
        const text = await readFile(args.path, "utf8");
        if (!text.includes("import.meta.url")) return { contents: text, loader: "ts" };
        // Every chunk lands in outdir (chunkNames has no folder), so one relative path fits all.
        const fromChunk = relative(outdir, args.path).split("\\").join("/");
        const replaced = text.replaceAll("import.meta.url", `new URL(${JSON.stringify(fromChunk)}, import.meta.url).href`);
        return { contents: replaced, loader: "ts" };
      });
    },
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildCli();
}
