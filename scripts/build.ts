/**
 * `npm run build`: bundles every deployable with esbuild (and refreshes infra/deployables.json).
 *
 *   functions/<name>.ts      → dist/functions/<name>/index.js (+ chunks, migrations/, package.json)
 *   functions/jobs/<name>.ts → dist/jobs/<name>/index.js      (+ chunks, package.json)
 *   functions/services/<name>.ts → dist/services/<name>/index.js (+ chunks, package.json)
 *
 * ESM for Node 22 (the functions runtime is nodejs22). Dynamic `import()`s become separate chunks,
 * so a function loads the Google SDKs on its first request and the image stack only when a use
 * case asks for it. Native or file-reading packages stay external, and each bundle gets a
 * package.json listing exactly the externals it references (versions from our package.json), so
 * the platform's `npm install` fetches only those. The functions framework is always external: the
 * platform starts it from node_modules, and our `ff.cloudEvent(...)` must register into that same
 * copy.
 */
import { cp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import { FUNCTIONS, FUNCTION_NAMES, HEAVY_LOADERS, JOB_NAMES, SERVICE_NAMES } from "../shared/deployables.ts";
import { writeManifest } from "./deployables.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Packages never bundled: native addons, WASM + data files, and the framework itself. */
export const EXTERNALS = [
  "@google-cloud/functions-framework",
  "sharp",
  "onnxruntime-node",
  "@electric-sql/pglite",
  "geotiff",
  // Optional native driver `pg` tries to load only when asked; never installed.
  "pg-native",
];

/** Heavy externals a function may reference: only those of the loaders its registry entry names. */
const HEAVY = ["sharp", "onnxruntime-node", "geotiff", "@electric-sql/pglite"];
const HEAVY_ALLOWED: Record<string, readonly string[]> = Object.fromEntries(
  FUNCTION_NAMES.map((name) => [name, [...new Set(FUNCTIONS[name].heavy.flatMap((loader) => HEAVY_LOADERS[loader]))]]),
);

// CommonJS dependencies inside an ESM bundle still call require() and read __dirname.
const BANNER = [
  `import { createRequire as __mlopsCreateRequire } from "node:module";`,
  `import { fileURLToPath as __mlopsFileURLToPath } from "node:url";`,
  `import { dirname as __mlopsDirname } from "node:path";`,
  `const require = __mlopsCreateRequire(import.meta.url);`,
  `const __filename = __mlopsFileURLToPath(import.meta.url);`,
  `const __dirname = __mlopsDirname(__filename);`,
].join("\n");

export interface BuiltBundle {
  kind: "function" | "job" | "service";
  name: string;
  outdir: string;
  externals: string[];
}

/**
 * `outRoot` (default `dist/`) must sit inside the project, so bundles resolve their externals from
 * its node_modules; tests build into a folder of their own, so test processes running side by side
 * never start a bundle another one is rewriting.
 */
export async function buildAll(options: { only?: string[]; log?: (line: string) => void; outRoot?: string } = {}): Promise<BuiltBundle[]> {
  const outRoot = options.outRoot ?? join(ROOT, "dist");
  const log = options.log ?? ((line: string) => console.log(line));
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  const [functionFiles, jobFiles, serviceFiles] = await Promise.all([tsFiles("functions"), tsFiles("functions/jobs"), tsFiles("functions/services")]);
  // Every deployable is in the registry (shared/deployables.ts), which Terraform deploys from.
  assertSameNames("functions/*.ts", functionFiles, FUNCTION_NAMES);
  assertSameNames("functions/jobs/*.ts", jobFiles, JOB_NAMES);
  assertSameNames("functions/services/*.ts", serviceFiles, SERVICE_NAMES);
  const entries = [
    ...functionFiles.map((name) => ({ kind: "function" as const, name, entry: join(ROOT, "functions", `${name}.ts`) })),
    ...jobFiles.map((name) => ({ kind: "job" as const, name, entry: join(ROOT, "functions", "jobs", `${name}.ts`) })),
    ...serviceFiles.map((name) => ({ kind: "service" as const, name, entry: join(ROOT, "functions", "services", `${name}.ts`) })),
  ].filter((e) => !options.only || options.only.includes(e.name));

  const built: BuiltBundle[] = [];
  for (const e of entries) {
    const outdir = join(outRoot, e.kind === "function" ? "functions" : e.kind === "job" ? "jobs" : "services", e.name);
    await rm(outdir, { recursive: true, force: true });
    // The train job also carries the baseline trainer, so the image trains without TRAINER_COMMAND.
    const entryPoints: Record<string, string> = { index: e.entry };
    if (e.kind === "job" && e.name === "train") entryPoints["trainer-baseline"] = join(ROOT, "functions", "jobs", "trainers", "baseline.ts");
    const result = await build({
      entryPoints,
      outdir,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node22",
      external: EXTERNALS,
      banner: { js: BANNER },
      sourcemap: "linked",
      metafile: true,
      logLevel: "error",
      legalComments: "none",
      // Keeps the functions framework's log lines and our stack traces readable.
      keepNames: true,
    });
    const externals = externalPackages(result.metafile);
    const heavyOffenders = externals.filter((p) => HEAVY.includes(p) && !(e.kind !== "function" || HEAVY_ALLOWED[e.name]?.includes(p)));
    if (heavyOffenders.length > 0) {
      throw new Error(`${e.kind} ${e.name} references ${heavyOffenders.join(", ")}, which the loaders in its registry entry (shared/deployables.ts \`heavy\`) do not bring`);
    }
    const dependencies: Record<string, string> = {};
    for (const name of externals) {
      const version = pkg.dependencies[name];
      if (!version) throw new Error(`${e.name} imports external ${name}, which is not a dependency in package.json`);
      dependencies[name] = version;
    }
    const optional = optionalRequires(result.metafile);
    if (optional.length) log(`  (left unresolved, required inside try/catch by dependencies: ${optional.join(", ")})`);
    if (e.kind === "job" && e.name === "train") {
      // The reference PyTorch trainer (TRAINER_COMMAND=builtin:unet) rides along in the train image.
      await cp(join(ROOT, "infra", "jobs", "train", "unet", "train_unet.py"), join(outdir, "unet", "train_unet.py"));
    }
    if (e.kind === "function") {
      // shared/db/migrations.ts reads ./migrations/ next to the chunk that contains it.
      await cp(join(ROOT, "shared", "db", "migrations"), join(outdir, "migrations"), { recursive: true });
    }
    const manifest = {
      name: `mlops-${e.kind}-${e.name}`,
      version: "0.0.0",
      private: true,
      type: "module",
      main: "index.js",
      engines: { node: ">=22" },
      dependencies,
    };
    await writeFile(join(outdir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    const size = Object.entries(result.metafile.outputs)
      .filter(([file]) => file.endsWith(".js"))
      .reduce((n, [, o]) => n + o.bytes, 0);
    log(`${e.kind.padEnd(8)} ${e.name.padEnd(22)} ${(size / 1024).toFixed(0).padStart(6)} KiB  externals: ${externals.join(", ") || "-"}  → ${relative(ROOT, outdir)}`);
    built.push({ kind: e.kind, name: e.name, outdir, externals });
  }
  return built;
}

/** Package names (not subpaths, not node: builtins) of the declared externals the bundle imports. */
export function externalPackages(metafile: Metafile): string[] {
  return importedPackages(metafile).filter((name) => EXTERNALS.includes(name) && name !== "pg-native");
}

/**
 * Packages esbuild left external on its own: dependencies `require()` them inside try/catch as
 * optional extras (node-fetch's `encoding`, ws's `bufferutil`, …), and cope when they are absent.
 */
export function optionalRequires(metafile: Metafile): string[] {
  return importedPackages(metafile).filter((name) => !EXTERNALS.includes(name));
}

function importedPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || imp.path.startsWith("node:") || imp.path.startsWith(".")) continue;
      const parts = imp.path.split("/");
      const name = imp.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
      if (!BUILTINS.has(name)) names.add(name);
    }
  }
  return [...names].sort();
}

const BUILTINS = new Set((await import("node:module")).builtinModules);

function assertSameNames(what: string, files: readonly string[], registered: readonly string[]): void {
  const missing = registered.filter((n) => !files.includes(n));
  const extra = files.filter((n) => !registered.includes(n));
  if (missing.length || extra.length) {
    throw new Error(`${what} and shared/deployables.ts disagree: not in the registry: ${extra.join(", ") || "-"}; no source file: ${missing.join(", ") || "-"}`);
  }
}

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((d) => d.isFile() && d.name.endsWith(".ts") && !d.name.endsWith(".d.ts"))
    .map((d) => d.name.slice(0, -3))
    .sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2);
  await mkdir(join(ROOT, "dist"), { recursive: true });
  // Only the command refreshes the manifest: a test that builds must not hide a stale one.
  if (await writeManifest()) console.log("wrote infra/deployables.json (the registry changed): commit it");
  await buildAll(only.length ? { only } : {});
}
