#!/usr/bin/env node
// The `mlops` command. It runs the compiled CLI in dist/cli/ (built by `npm ci` / `npm install`
// through the `prepare` script, or `npm run build:cli`) and falls back to the TypeScript sources
// through tsx when that build is missing, when a source file changed since it was built
// (dist/cli/sources.json records each one's size and mtime), or when MLOPS_CLI=source.
import { readFileSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);

function freshBuild() {
  if (process.env.MLOPS_CLI === "source") return false;
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL("dist/cli/sources.json", root), "utf8"));
  } catch {
    return false;
  }
  for (const [path, size, mtimeMs] of manifest.sources) {
    let s;
    try {
      s = statSync(new URL(path, root));
    } catch {
      return false;
    }
    if (s.size !== size || s.mtimeMs !== mtimeMs) return false;
  }
  return true;
}

let main;
if (freshBuild()) {
  ({ main } = await import("../dist/cli/main.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../shared/cli/main.ts"));
}
await main(process.argv);
