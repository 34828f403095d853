import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { silentLogger, systemClock } from "../../../../shared/adapters/basics.ts";
import { EncordApiError, EncordAuthError } from "../../../../shared/adapters/encord/errors.ts";
import { EncordTransport, encodeQuery, type EncordTransportOptions } from "../../../../shared/adapters/encord/http.ts";
import { parseEncordKey } from "../../../../shared/adapters/encord/keys.ts";
import { generateTestKey } from "../../../fakes/encord-keys.ts";
import { startFakeEncord, type FakeEncord } from "../../../fakes/encord-server.ts";

let fake: FakeEncord;
let key: ReturnType<typeof generateTestKey>;
let sleeps: number[];

beforeEach(async () => {
  key = generateTestKey();
  fake = await startFakeEncord({ publicKeyHex: key.publicKeyHex });
  sleeps = [];
});
afterEach(() => fake.close());

function transport(overrides: Partial<EncordTransportOptions> = {}, keyText = key.openssh): EncordTransport {
  const parsed = parseEncordKey(keyText);
  return new EncordTransport({
    domain: fake.url,
    key: async () => parsed,
    clock: systemClock,
    log: silentLogger,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    backoffMs: [100, 300, 600],
    ...overrides,
  });
}

const listIntegrations = (t: EncordTransport) => t.v2({ method: "GET", path: "cloud-integrations" });
const listRows = (t: EncordTransport) =>
  t.v1({ resourceType: "project", resourceId: fake.state.projectHash, queryType: "labelrowmetadata", method: "GET", uid: null, payload: {}, retryable: true });
const requestsTo = (fragment: string) => fake.state.requests.filter((r) => r.path.includes(fragment) || r.queryType === fragment).length;

describe("EncordTransport: success", () => {
  it("signs v2 requests the fake accepts and returns the parsed body", async () => {
    const body = (await listIntegrations(transport())) as { result: { title: string }[] };
    expect(body.result.map((i) => i.title)).toEqual(["gcs-annotation"]);
    expect(fake.state.counters.authFailures).toBe(0);
  });

  it("signs v1 requests the fake accepts and unwraps the envelope's response", async () => {
    expect(await listRows(transport())).toEqual([]);
    expect(fake.state.counters.authFailures).toBe(0);
  });
});

describe("EncordTransport: retries", () => {
  it("waits out an integer Retry-After on 429, then succeeds", async () => {
    fake.failNext({ match: "cloud-integrations", status: 429, retryAfter: 7 });
    await listIntegrations(transport());
    expect(sleeps).toEqual([7000]);
    expect(requestsTo("cloud-integrations")).toBe(2);
  });

  it("retries 5xx with backoff and gives up with a TransientError after the retries", async () => {
    fake.failNext({ match: "cloud-integrations", status: 503, times: 10 });
    const err = await listIntegrations(transport()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/failed after 4 attempts.*HTTP 503/);
    expect(requestsTo("cloud-integrations")).toBe(4);
    expect(sleeps).toEqual([100, 300, 600]);
  });

  it.each([500, 502, 413])("retries HTTP %i on a v1 call", async (status) => {
    fake.failNext({ match: "labelrowmetadata", status, times: 2 });
    expect(await listRows(transport())).toEqual([]);
    expect(requestsTo("labelrowmetadata")).toBe(3);
  });

  it("does not sit out a Retry-After beyond its limit: the TransientError carries it", async () => {
    fake.failNext({ match: "cloud-integrations", status: 429, retryAfter: 3600 });
    const err = await listIntegrations(transport()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).retryAfterMs).toBe(3_600_000);
    expect(sleeps).toEqual([]);
  });

  it("never re-sends a non-retryable call that reached the server", async () => {
    fake.failNext({ match: "storage/folders", status: 503 });
    const err = await transport().v2({ method: "POST", path: "storage/folders", body: { name: "x" }, retryable: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect(requestsTo("storage/folders")).toBe(1);
    expect(fake.state.counters.foldersCreated).toBe(0);
  });

  it("retries a refused connection even for a non-retryable call (nothing was sent)", async () => {
    const url = fake.url;
    await fake.close();
    const t = transport({ domain: url });
    const err = await t.v2({ method: "POST", path: "storage/folders", body: { name: "x" }, retryable: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toContain("ECONNREFUSED");
    expect(sleeps).toHaveLength(3);
    fake = await startFakeEncord({ publicKeyHex: key.publicKeyHex }); // for afterEach
  });

  it("times out a hung request and retries it", async () => {
    fake.failNext({ match: "cloud-integrations", hangMs: 5000, status: 503 });
    const body = (await listIntegrations(transport({ requestTimeoutMs: 1000 }))) as { result: unknown[] };
    expect(body.result).toHaveLength(1);
    // The hung attempt was abandoned and retried (a slow machine may need more than one retry).
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
  });

  it("retries a v1 UNKNOWN_ERROR whose body status is 5xx", async () => {
    fake.failNext({ match: "labelrowmetadata", v1Code: "UNKNOWN_ERROR", v1Status: 500 });
    expect(await listRows(transport())).toEqual([]);
    expect(requestsTo("labelrowmetadata")).toBe(2);
  });

  it("does not retry a v1 UNKNOWN_ERROR whose body status is 4xx", async () => {
    fake.failNext({ match: "labelrowmetadata", v1Code: "UNKNOWN_ERROR", v1Status: 400 });
    await expect(listRows(transport())).rejects.toBeInstanceOf(EncordApiError);
    expect(requestsTo("labelrowmetadata")).toBe(1);
  });
});

describe("EncordTransport: refusals", () => {
  it("maps a v1 auth error (unknown key) to EncordAuthError without retrying", async () => {
    const stranger = generateTestKey();
    const err = await listRows(transport({}, stranger.openssh)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordAuthError);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as EncordAuthError).encordCode).toBe("AUTHENTICATION_ERROR");
    expect(fake.state.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("maps v2 401 to EncordAuthError without retrying", async () => {
    const stranger = generateTestKey();
    const err = await listIntegrations(transport({}, stranger.openssh)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordAuthError);
    expect((err as EncordAuthError).httpStatus).toBe(401);
    expect(fake.state.requests).toHaveLength(1);
  });

  it("after an auth failure, fails fast without calling Encord again", async () => {
    const t = transport({}, generateTestKey().openssh);
    await expect(listIntegrations(t)).rejects.toBeInstanceOf(EncordAuthError);
    await expect(listRows(t)).rejects.toBeInstanceOf(EncordAuthError);
    await expect(listIntegrations(t)).rejects.toBeInstanceOf(EncordAuthError);
    expect(fake.state.requests).toHaveLength(1);
  });

  it("after a 403 on one resource, blocks only calls to that resource", async () => {
    const t = transport();
    fake.failNext({ match: (r) => r.path.startsWith("storage/folders/F1"), status: 403 });
    const err = await t.v2({ method: "GET", path: "storage/folders/F1/items" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordAuthError);
    expect((err as EncordAuthError).accessRefused).toBe(true);
    // The same folder fails fast (its upload jobs too), without asking Encord again…
    await expect(t.v2({ method: "GET", path: "storage/folders/F1/data-upload-jobs/J" })).rejects.toBeInstanceOf(EncordAuthError);
    expect(requestsTo("storage/folders/F1")).toBe(1);
    // …while the project, the integrations and the legacy API go on working.
    await listIntegrations(t);
    expect(await listRows(t)).toEqual([]);
    await t.v2({ method: "GET", path: `projects/${fake.state.projectHash}` });
    expect(fake.state.requests.filter((r) => r.status === 200)).toHaveLength(3);
  });

  it("after a v1 AUTHORISATION_ERROR on the project, still reaches the dataset", async () => {
    const t = transport();
    fake.failNext({ match: "labelrowmetadata", v1Code: "AUTHORISATION_ERROR", v1Status: 403 });
    await expect(listRows(t)).rejects.toBeInstanceOf(EncordAuthError);
    await expect(listRows(t)).rejects.toBeInstanceOf(EncordAuthError);
    expect(requestsTo("labelrowmetadata")).toBe(1);
    await t.v1({ resourceType: "dataset", resourceId: fake.state.datasetHash, queryType: "datasetlinkitems", method: "POST", uid: fake.state.datasetHash, payload: { item_uuids: [] }, retryable: true });
    expect(requestsTo("datasetlinkitems")).toBe(1);
  });

  it("gives each attempt 180 s by default, as the SDK does", async () => {
    const timeouts = vi.spyOn(AbortSignal, "timeout");
    await listIntegrations(transport());
    expect(timeouts.mock.calls.map(([ms]) => ms)).toEqual([180_000]);
    timeouts.mockRestore();
  });

  it("ends a call that outlives its budget with a TransientError instead of retrying on", async () => {
    fake.failNext({ match: "cloud-integrations", hangMs: 2000, times: 5 });
    const err = await listIntegrations(transport({ callBudgetMs: 300, backoffMs: [50] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/no time left for another attempt after 1 \(.*timed out\)/);
    expect(sleeps).toEqual([]);
  });

  it("maps SSH_KEY_NOT_FOUND_ERROR to EncordAuthError", async () => {
    fake.failNext({ match: "labelrowmetadata", v1Code: "SSH_KEY_NOT_FOUND_ERROR", v1Payload: "Your used SSH key does not exist" });
    const err = await listRows(transport()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordAuthError);
    expect((err as Error).message).toContain("SSH_KEY_NOT_FOUND_ERROR");
  });

  it("maps other v1 codes to EncordApiError carrying code and payload", async () => {
    const err = await transport()
      .v1({ resourceType: "project", resourceId: "no-such-project", queryType: "labelrowmetadata", method: "GET", uid: null, payload: {}, retryable: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordApiError);
    expect(err).not.toBeInstanceOf(EncordAuthError);
    expect((err as EncordApiError).encordCode).toBe("RESOURCE_NOT_FOUND_ERROR");
    expect(fake.state.requests).toHaveLength(1);
  });

  it("maps a v2 404 to a non-retried EncordApiError with the server's message", async () => {
    const err = await transport().v2({ method: "GET", path: "projects/nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordApiError);
    expect((err as Error).message).toMatch(/HTTP 404: project not found/);
  });
});

describe("encodeQuery", () => {
  it("writes booleans as Python does, repeats list keys and drops nulls", () => {
    expect(encodeQuery({ signUrls: true, desc: false, itemTypes: ["image", "video"], search: null, pageSize: 100 })).toBe(
      "signUrls=True&desc=False&itemTypes=image&itemTypes=video&pageSize=100",
    );
  });

  it("percent-encodes reserved characters so the signed target equals the sent one", () => {
    expect(encodeQuery({ time: "2024-02-01T01:02:03+01:00", search: "a b" })).toBe("time=2024-02-01T01%3A02%3A03%2B01%3A00&search=a+b");
  });
});
