/**
 * The repository is self-contained: its code, tests and docs never cite the team's handout, which
 * lives outside the repository and is not shipped with it. A fact the code relies on is written
 * down here (docs/encord.md, docs/labelstudio.md, docs/jobs.md, the README) or attributed to its
 * public source (an SDK's file, a library's function, a specification).
 *
 * Walks every tracked file and every untracked one git does not ignore (`git ls-files`), text
 * only, and fails naming file and line for:
 * - a handout file name, with its extension or, for the two cited by section, without it;
 * - an absolute path into the handout's folder, or a path to one of its subfolders;
 * - a relative `../…/shared/` path that climbs out of the repository (the repository's own
 *   `shared/`, imported as `../../shared/…` from a subfolder, is fine).
 *
 * The names below are assembled from parts so that this file does not match itself.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const SELF = relative(ROOT, import.meta.filename).split(sep).join("/");

const MD = ".md";
const HANDOUT_FILES = ["encord-api", "anchors", "label-studio", "gcp-serverless", "style", "DESIGN"].map((name) => name + MD);
const BARE_SECTION_CITES = ["anchors", "DESIGN"];
const UP = "../";
const SHARED = "shared";

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Exact handout file names, not part of a longer name (`labelstudio.md`, `code-style.md` pass). */
const FILE_NAME = new RegExp(`(?<![\\w-])(?:${HANDOUT_FILES.map(escape).join("|")})`, "g");
/** A handout file cited by section without its extension (its name, a space, a section sign). */
const BARE_CITE = new RegExp(`\\b(?:${BARE_SECTION_CITES.join("|")})\\s*§`, "g");
/** The handout's folder by absolute path. */
const ABSOLUTE = new RegExp(escape(`/work/${SHARED}`) + "(?![\\w-])", "g");
/** A relative path ending in `shared/`; whether it leaves the repository is decided per file. */
const RELATIVE_SHARED = new RegExp(`(?<![\\w.])((?:${escape(UP)})+)${SHARED}/`, "g");
/** The handout's subfolders, wherever the path starts (the repository's `shared/` has none of them). */
const HANDOUT_DIRS = ["reference", "hooks"].filter((dir) => !existsSync(join(ROOT, SHARED, dir)));
const SUBFOLDER = HANDOUT_DIRS.length ? new RegExp(`(?<![\\w-])${SHARED}/(?:${HANDOUT_DIRS.join("|")})(?![\\w-])`, "g") : null;

const BINARY_EXTENSIONS = new Set([".zip", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".gif", ".onnx", ".pt", ".gz", ".woff", ".woff2", ".ico", ".pdf"]);
const SKIPPED_DIRS = new Set(["node_modules", ".git", "dist"]);

/** Tracked files plus untracked ones git does not ignore; a plain walk when git is not there. */
function repositoryFiles(): string[] {
  const git = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (git.status === 0 && git.stdout) return [...new Set(git.stdout.split("\0").filter(Boolean))];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (SKIPPED_DIRS.has(entry.name) || entry.name.startsWith(".mlops")) continue;
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out.push(path);
    }
  };
  walk("");
  return out;
}

function isScanned(path: string): boolean {
  if (path === SELF) return false;
  if (path.split("/").some((part) => SKIPPED_DIRS.has(part))) return false;
  return !BINARY_EXTENSIONS.has(extname(path).toLowerCase());
}

/** Does `dots` (`../../`) written in `file` lead out of the repository? */
function climbsOut(file: string, dots: string): boolean {
  const target = relative(ROOT, resolve(ROOT, dirname(file), dots));
  return target === ".." || target.startsWith(`..${sep}`) || isAbsolute(target);
}

function findHandoutCitations(file: string, text: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((line, index) => {
    const at = `${file}:${index + 1}`;
    for (const match of line.matchAll(FILE_NAME)) found.push(`${at}: cites ${match[0]}`);
    for (const match of line.matchAll(BARE_CITE)) found.push(`${at}: cites "${match[0]}"`);
    for (const match of line.matchAll(ABSOLUTE)) found.push(`${at}: points at ${match[0]}`);
    for (const match of SUBFOLDER ? line.matchAll(SUBFOLDER) : []) found.push(`${at}: points at ${match[0]}`);
    for (const match of line.matchAll(RELATIVE_SHARED)) {
      if (climbsOut(file, match[1]!)) found.push(`${at}: ${match[0]} leaves the repository`);
    }
  });
  return found;
}

describe("the repository is self-contained", () => {
  it("recognises each kind of citation, and leaves the repository's own shared/ alone", () => {
    const name = (base: string) => base + MD;
    expect(findHandoutCitations("shared/x.ts", ` * (${name("encord-api")} §6.2)`)).toHaveLength(1);
    expect(findHandoutCitations("README.md", `see ${name("DESIGN")} and ${name("anchors")}`)).toHaveLength(2);
    expect(findHandoutCitations("test/x.test.ts", `// ${"anchors"} §14.1`)).toHaveLength(1);
    expect(findHandoutCitations("README.md", `[handout](${UP}${SHARED}/x${MD})`)).toHaveLength(1);
    expect(findHandoutCitations("docs/x.md", `cat /work/${SHARED}/x`)).toHaveLength(1);
    expect(findHandoutCitations("docs/x.md", `see ${UP}${SHARED}/${HANDOUT_DIRS[0] ?? ""}/x`)).toHaveLength(HANDOUT_DIRS.length ? 1 : 0);
    expect(findHandoutCitations("test/helpers/db.ts", `import { x } from "${UP}${UP}${SHARED}/ports.ts";`)).toEqual([]);
    expect(findHandoutCitations("functions/x.ts", `import("${UP}${SHARED}/runtime/gcp.ts")`)).toEqual([]);
    expect(findHandoutCitations("docs/x.md", `docs/labelstudio${MD}, code-${name("style")}, docs/encord${MD} §7`)).toEqual([]);
  });

  it("no file cites the team handout", () => {
    const files = repositoryFiles().filter(isScanned);
    expect(files.length).toBeGreaterThan(50);
    const found: string[] = [];
    for (const file of files) {
      let bytes: Buffer;
      try {
        if (!statSync(join(ROOT, file)).isFile()) continue;
        bytes = readFileSync(join(ROOT, file));
      } catch {
        continue; // listed by git but deleted in the working tree
      }
      if (bytes.subarray(0, 8000).includes(0)) continue; // binary
      found.push(...findHandoutCitations(file, bytes.toString("utf8")));
    }
    expect(found, `cite docs/ or the public source instead:\n${found.join("\n")}`).toEqual([]);
  });
});
