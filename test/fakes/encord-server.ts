import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyV1, verifyV2 } from "./encord-auth.ts";
import { DEFAULT_STAGES, type FakeLabelRow, duplicateUrls, encordTimestamp, enterStage, fakeEditorOntology, longTimestamp, newState, seedEditorOntology } from "./encord-state.ts";
import type { CompleteOptions, FailureRule, FakeEncord, FakeEncordOptions, LabelTarget } from "./encord-types.ts";
import { handleV1 } from "./encord-v1.ts";
import { type FakeResponse, handleV2, processUploadJob } from "./encord-v2.ts";

export { fakeEditorOntology, encordTimestamp, seedEditorOntology } from "./encord-state.ts";
export type { FakeEncordState, FakeItem, FakeLabelRow, FakeStage, FakeUploadJob } from "./encord-state.ts";
export type { CompleteOptions, FailureRule, FakeEncord, FakeEncordOptions, LabelTarget } from "./encord-types.ts";

/**
 * A wire-level fake of Encord on node:http (127.0.0.1, a free port). It verifies both signature
 * schemes against the one registered public key, implements the endpoints the backend uses with
 * the documented response shapes, and offers test controls: complete labels, inject failures,
 * limit label-row fetches, and counters that make duplicate registrations observable.
 *
 *   const fake = await startFakeEncord({ publicKeyHex });
 *   const env = fake.env({ ENCORD_SSH_KEY: openssh });   // ANNOTATION_BACKEND=encord + domain, hashes, …
 *   … register items through the backend …
 *   fake.completeAll((t) => myLabelRow(t));               // every registered item reaches "Complete"
 *   await fake.close();
 */
export async function startFakeEncord(options: FakeEncordOptions): Promise<FakeEncord> {
  const now = options.now ?? (() => new Date());
  const integration = options.integration ?? { uuid: randomUUID(), title: "gcs-annotation" };
  const stages = options.stages ?? DEFAULT_STAGES();
  const state = newState({
    publicKeyHex: options.publicKeyHex,
    integrations: [...(options.otherIntegrations ?? []), integration],
    projectHash: options.projectHash ?? randomUUID(),
    projectTitle: options.projectTitle ?? "Cloud masks",
    datasetHash: options.datasetHash ?? randomUUID(),
    datasetTitle: options.datasetTitle ?? "mlops-loop items",
    stages,
    // The seed project's ontology unless a test names its own classes or ontology.
    editorOntology: options.ontology ?? (options.classNames ? fakeEditorOntology(options.classNames) : seedEditorOntology()),
  });
  if (options.datasetAttached) state.projectDatasets.add(state.datasetHash);
  const failures: (FailureRule & { left: number })[] = [];
  const hooks: { match: (req: { method: string; path: string; queryType?: string; payload?: unknown }) => boolean; fn: () => void }[] = [];
  /** Runs (once) the hooks matching a request that was just answered. */
  const runHooks = (req: { method: string; path: string; queryType?: string; payload?: unknown }) => {
    for (const hook of [...hooks]) {
      if (!hook.match(req)) continue;
      hooks.splice(hooks.indexOf(hook), 1);
      hook.fn();
    }
  };
  const maxAge = options.maxSignatureAgeSeconds ?? 300;
  let lastEditMicros = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ message: `fake crashed: ${(e as Error).message}` }));
    });
  });

  function takeFailure(method: string, path: string, queryType?: string): (FailureRule & { left: number }) | undefined {
    const rule = failures.find((f) => (typeof f.match === "string" ? path.includes(f.match) || queryType === f.match : f.match({ method, path, ...(queryType ? { queryType } : {}) })));
    if (!rule) return undefined;
    if (--rule.left <= 0) failures.splice(failures.indexOf(rule), 1);
    return rule;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    const url = new URL(target, "http://fake.invalid");
    state.counters.requests++;
    const send = (r: FakeResponse) => {
      res.writeHead(r.status, { ...(r.body === undefined ? {} : { "content-type": "application/json" }), ...r.headers });
      res.end(r.body === undefined ? undefined : JSON.stringify(r.body));
    };

    if (method === "POST" && (url.pathname === "/public" || url.pathname === "/public/user")) {
      const v1Error = (status: number, code: string, payload: unknown, extra: Partial<FakeResponse> = {}) => {
        state.requests.push({ method, path: url.pathname, status: 200, errorCode: code });
        send({ status: 200, body: { status, response: [code], payload }, ...extra });
      };
      const auth = verifyV1(header(req, "authorization"), body, state.publicKeyHex);
      if (!auth.ok) {
        state.counters.authFailures++;
        return v1Error(401, "AUTHENTICATION_ERROR", auth.reason);
      }
      let parsed: { query_type?: unknown; query_method?: unknown; values?: { uid?: unknown; payload?: unknown } };
      try {
        parsed = JSON.parse(body.toString("utf8")) as typeof parsed;
      } catch {
        return v1Error(400, "INVALID_ARGUMENTS_ERROR", "body is not JSON");
      }
      const queryType = String(parsed.query_type);
      const queryMethod = String(parsed.query_method);
      const record = { method, path: url.pathname, queryType, queryMethod, uid: parsed.values?.uid, payload: parsed.values?.payload };
      const failure = takeFailure(method, url.pathname, queryType);
      if (failure) {
        if (failure.hangMs) await new Promise((r) => setTimeout(r, failure.hangMs));
        if (failure.v1Code) {
          state.requests.push({ ...record, status: 200, errorCode: failure.v1Code });
          return send({ status: 200, body: { status: failure.v1Status ?? 400, response: [failure.v1Code], payload: failure.v1Payload ?? null } });
        }
        const status = failure.status ?? 503;
        state.requests.push({ ...record, status });
        return send({ status, body: { message: "injected failure" }, headers: retryAfterHeader(failure) });
      }
      const result = handleV1({
        state, now: now(), resourceType: header(req, "resourcetype") ?? "", resourceId: header(req, "resourceid") ?? "",
        queryType, queryMethod, uid: parsed.values?.uid ?? null,
        payload: (parsed.values?.payload ?? null) as Record<string, unknown> | null,
      });
      state.requests.push({ ...record, status: 200, ...(result.ok ? {} : { errorCode: result.code }) });
      send({ status: 200, body: result.ok ? { status: 200, response: result.response } : { status: result.status, response: [result.code], payload: result.payload } });
      return runHooks({ method, path: url.pathname, queryType, payload: record.payload });
    }

    if (url.pathname.startsWith("/v2/public/")) {
      const auth = verifyV2({ method, target, headers: req.headers, body, publicKeyHex: state.publicKeyHex, nowSeconds: Math.floor(now().getTime() / 1000), maxAgeSeconds: maxAge });
      const path = url.pathname.slice("/v2/public/".length);
      if (!auth.ok) {
        state.counters.authFailures++;
        state.requests.push({ method, path, status: 401 });
        return send({ status: 401, body: { message: `authentication failed: ${auth.reason}` } });
      }
      let json: unknown = null;
      if (body.length > 0) {
        try {
          json = JSON.parse(body.toString("utf8"));
        } catch {
          state.requests.push({ method, path, status: 400 });
          return send({ status: 400, body: { message: "body is not JSON" } });
        }
      }
      const failure = takeFailure(method, path);
      if (failure) {
        if (failure.hangMs) await new Promise((r) => setTimeout(r, failure.hangMs));
        const status = failure.status ?? 503;
        state.requests.push({ method, path, body: json, status });
        return send({ status, body: { message: "injected failure" }, headers: retryAfterHeader(failure) });
      }
      const result = handleV2({ state, now: now(), method, segments: path.split("/").map(decodeURIComponent), query: url.searchParams, body: json });
      state.requests.push({ method, path, body: json, query: url.search.slice(1), status: result.status });
      send(result);
      return runHooks({ method, path });
    }
    send({ status: 404, body: { detail: "Not Found" } });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  function findRow(target: string): FakeLabelRow {
    for (const row of state.labelRows.values()) {
      const t = targetOf(row);
      if ([t.dataHash, t.itemUuid, t.title, t.labelHash].includes(target) || t.clientMetadata.itemId === target) return row;
    }
    throw new Error(`fake Encord: no label row for ${target} (is the item registered and its dataset attached to the project?)`);
  }

  function targetOf(row: FakeLabelRow): LabelTarget {
    const dataRow = [...state.dataRows.values()].find((d) => d.dataHash === row.dataHash)!;
    const item = state.items.get(dataRow.itemUuid)!;
    if (!row.labelHash) row.labelHash = randomUUID(); // assigned early so builders can embed it
    return {
      dataHash: row.dataHash, labelHash: row.labelHash, itemUuid: item.uuid, title: dataRow.title, dataType: dataRow.dataType,
      clientMetadata: JSON.parse(item.clientMetadata) as Record<string, unknown>, urls: [...item.urls], datasetHash: row.datasetHash,
    };
  }

  function completeStage(): string {
    const done = state.stages.filter((s) => s.stageType === "DONE");
    return (done.find((s) => s.title === "Complete") ?? done[0] ?? state.stages[state.stages.length - 1]!).title;
  }

  function nextEditTime(editedAt: Date | string | undefined): string {
    // Encord's own form (zoneless UTC, microseconds) is kept verbatim; other strings are parsed.
    if (typeof editedAt === "string") return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/.test(editedAt) ? editedAt : encordTimestamp(new Date(editedAt));
    const base = (editedAt ?? now()).getTime() * 1000;
    const us = Math.max(base, lastEditMicros + 1);
    lastEditMicros = us;
    return encordTimestamp(new Date(Math.floor(us / 1000)), us % 1000);
  }

  function complete(row: FakeLabelRow, content: Record<string, unknown>, t: LabelTarget, options: CompleteOptions = {}): string {
    const editedAt = nextEditTime(options.editedAt);
    row.content = {
      ...content,
      label_hash: t.labelHash, data_hash: t.dataHash, dataset_hash: t.datasetHash, data_title: t.title,
      // Label rows carry the long form; labelrowmetadata the zoneless ISO with microseconds.
      last_edited_at: longTimestamp(editedAt),
    };
    row.labelHash = t.labelHash;
    row.createdAt ??= editedAt;
    row.lastEditedAt = editedAt;
    row.annotator = options.annotator ?? "annotator@example.com";
    enterStage(state, row, options.stage ?? completeStage(), now());
    return t.labelHash;
  }

  return {
    url: baseUrl,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
    env: (extra = {}) => ({
      ANNOTATION_BACKEND: "encord",
      ENCORD_DOMAIN: baseUrl,
      ENCORD_INTEGRATION: integration.title,
      ENCORD_PROJECT_HASH: state.projectHash,
      ENCORD_DATASET_HASH: state.datasetHash,
      ...extra,
    }),
    completeLabel(target, labelRow, options) {
      const row = findRow(target);
      const t = targetOf(row);
      return complete(row, typeof labelRow === "function" ? labelRow(t) : labelRow, t, options);
    },
    completeAll(build, options) {
      const stage = options?.stage ?? completeStage();
      let n = 0;
      for (const row of state.labelRows.values()) {
        if (row.stageTitle === stage && row.content) continue;
        const t = targetOf(row);
        const content = build(t);
        if (!content) continue;
        complete(row, content, t, options);
        n++;
      }
      return n;
    },
    labelTargets: () => [...state.labelRows.values()].map(targetOf),
    moveToStage(target, stage) {
      if (!state.stages.some((s) => s.title === stage)) throw new Error(`fake Encord: no stage ${stage}`);
      enterStage(state, findRow(target), stage, now());
    },
    approve(target) {
      const row = findRow(target);
      if (state.stages.find((s) => s.title === row.stageTitle)?.stageType !== "REVIEW") throw new Error(`fake Encord: ${target} is not in a review stage (it is in ${row.stageTitle})`);
      enterStage(state, row, completeStage(), now());
    },
    reopen(target) {
      const first = state.stages.find((s) => s.stageType === "ANNOTATION") ?? state.stages[0]!;
      enterStage(state, findRow(target), first.title, now());
    },
    afterRequest(match, fn) {
      hooks.push({ match, fn });
    },
    failNext(rule) {
      failures.push({ ...rule, left: rule.times ?? 1 });
    },
    clearFailures() {
      failures.length = 0;
    },
    setLabelRowLimit(max, opts) {
      state.labelRowLimit = max === null ? null : { max, advertise: opts?.advertise ?? true };
    },
    settleUploadJobs() {
      state.holdUploadJobs = false;
      for (const job of state.uploadJobs.values()) processUploadJob(state, job, now());
    },
    holdUploadJobs() {
      state.holdUploadJobs = true;
    },
    breakUrl(url, error = "Object not found in bucket") {
      state.brokenUrls.set(url, error);
    },
    duplicateUrls: () => duplicateUrls(state),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function retryAfterHeader(rule: FailureRule): Record<string, string> {
  return rule.retryAfter === undefined ? {} : { "Retry-After": String(rule.retryAfter) };
}
