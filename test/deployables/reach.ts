/**
 * What a deployable's code can reach, found with the TypeScript compiler: starting from a
 * consumer's branch of `runConsumer` (or a job's entry file), follow every function it names
 * through the type checker's symbols, and collect
 *   - the message types it can emit (`emit("<type>", …)`, `buildEnvelope("<type>", …)`),
 *   - the top-level Config keys it reads (property access or destructuring on a `Config`),
 *   - whether it asks for the annotation backend, the normaliser, the image codec or the predictor.
 * Function-level: a function that is named is assumed to run, so this over-approximates (a
 * superset of what a delivery can do), which is the right side to err on for IAM grants.
 */
import { dirname, join, relative } from "node:path";
import ts from "typescript";

const ROOT = join(import.meta.dirname, "..", "..");

export interface Reach {
  emits: Set<string>;
  configKeys: Set<string>;
  backend: boolean;
  normaliser: boolean;
  codec: boolean;
  predictor: boolean;
}

export interface Reacher {
  /** The statements of `case "<consumer>":` in runConsumer (shared/core/consumers.ts). */
  consumer(name: string): Reach;
  /** Everything a job's entry file (functions/jobs/<name>.ts) names. */
  job(name: string): Reach;
  /** A function exported by a source file, e.g. an annotation backend's factory. */
  exported(file: string, name: string): Reach;
}

export function createReacher(): Reacher {
  const configPath = join(ROOT, "tsconfig.json");
  const raw = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(raw.config, ts.sys, dirname(configPath));
  const roots = parsed.fileNames.filter((f) => !relative(ROOT, f).startsWith("test"));
  const program = ts.createProgram({ rootNames: roots, options: { ...parsed.options, noEmit: true } });
  const checker = program.getTypeChecker();

  const source = (file: string): ts.SourceFile => {
    const sf = program.getSourceFile(join(ROOT, file));
    if (!sf) throw new Error(`${file} is not part of the program`);
    return sf;
  };
  const consumersFile = source("shared/core/consumers.ts");
  const runConsumer = findFunction(consumersFile, "runConsumer");

  const isOurs = (sf: ts.SourceFile) => !sf.isDeclarationFile && !sf.fileName.includes("node_modules") && !relative(ROOT, sf.fileName).startsWith("test");

  const isConfigType = (type: ts.Type): boolean => {
    const symbol = type.aliasSymbol ?? type.getSymbol();
    return symbol?.getName() === "Config" && (symbol.declarations ?? []).some((d) => d.getSourceFile().fileName.endsWith(join("shared", "config", "load.ts")));
  };
  // `deps.backend()` on Deps, JobDeps or a Pick<Deps, …> of them.
  const isDepsMember = (expr: ts.Expression): boolean => /\bDeps\b|JobDeps/.test(checker.typeToString(checker.getTypeAtLocation(expr)));

  function walk(seeds: ts.Node[], skip: ts.Node[] = []): Reach {
    const reach: Reach = { emits: new Set(), configKeys: new Set(), backend: false, normaliser: false, codec: false, predictor: false };
    const visited = new Set<ts.Node>(skip);
    const queue = [...seeds];
    const enqueue = (decl: ts.Node) => {
      if (!visited.has(decl)) {
        visited.add(decl);
        queue.push(decl);
      }
    };
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node)) {
        const callee = node.expression;
        const first = node.arguments[0];
        const calleeName = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : "";
        if ((calleeName === "emit" || calleeName === "buildEnvelope") && first && ts.isStringLiteralLike(first)) reach.emits.add(first.text);
        if (ts.isPropertyAccessExpression(callee) && ["backend", "normaliser", "codec", "predictor"].includes(callee.name.text) && isDepsMember(callee.expression)) {
          reach[callee.name.text as "backend" | "normaliser" | "codec" | "predictor"] = true;
        }
      }
      if (ts.isPropertyAccessExpression(node) && isConfigType(checker.getTypeAtLocation(node.expression))) reach.configKeys.add(node.name.text);
      if (ts.isVariableDeclaration(node) && ts.isObjectBindingPattern(node.name) && node.initializer && isConfigType(checker.getTypeAtLocation(node.initializer))) {
        for (const element of node.name.elements) {
          const key = element.propertyName ?? element.name;
          if (ts.isIdentifier(key)) reach.configKeys.add(key.text);
        }
      }
      if (ts.isIdentifier(node)) {
        let symbol = checker.getSymbolAtLocation(node);
        if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
        for (const decl of symbol?.declarations ?? []) {
          if (!isOurs(decl.getSourceFile())) continue;
          if (ts.isFunctionDeclaration(decl) || ts.isMethodDeclaration(decl)) enqueue(decl);
          else if (ts.isVariableDeclaration(decl) && decl.initializer && (ts.isArrowFunction(decl.initializer) || ts.isFunctionExpression(decl.initializer))) enqueue(decl);
        }
      }
      ts.forEachChild(node, visit);
    };
    while (queue.length > 0) visit(queue.pop()!);
    return reach;
  }

  return {
    consumer(name) {
      const clause = findCase(runConsumer, name);
      // Not runConsumer itself: from inside a branch it would pull every other consumer in.
      return walk([...clause.statements], [runConsumer]);
    },
    job(name) {
      return walk([source(`functions/jobs/${name}.ts`)]);
    },
    exported(file, name) {
      return walk([findFunction(source(file), name)]);
    },
  };
}

function findFunction(sf: ts.SourceFile, name: string): ts.FunctionDeclaration {
  const found = sf.statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === name);
  if (!found) throw new Error(`function ${name} not found in ${sf.fileName}`);
  return found;
}

function findCase(fn: ts.FunctionDeclaration, label: string): ts.CaseClause {
  let found: ts.CaseClause | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isCaseClause(node) && ts.isStringLiteralLike(node.expression) && node.expression.text === label) found = node;
    ts.forEachChild(node, visit);
  };
  visit(fn);
  if (!found) throw new Error(`runConsumer has no case "${label}"`);
  return found;
}
