import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEncordKey } from "../../../../shared/adapters/encord/keys.ts";
import { signV1, signV2 } from "../../../../shared/adapters/encord/signing.ts";
import { generateTestKey } from "../../../fakes/encord-keys.ts";
import { startFakeEncord, type FakeEncord } from "../../../fakes/encord-server.ts";

/** The fake must be a strict verifier, or every "signed" test above it proves nothing. */

const owner = generateTestKey();
const ownerKey = parseEncordKey(owner.openssh);
const strangerKey = parseEncordKey(generateTestKey().openssh);
let fake: FakeEncord;

beforeAll(async () => {
  fake = await startFakeEncord({ publicKeyHex: owner.publicKeyHex });
});
afterAll(() => fake.close());

const nowSeconds = () => Math.floor(Date.now() / 1000);

async function v2(opts: { target: string; method?: string; signedBody?: string; sentBody?: string; created?: number; key?: typeof ownerKey; signedTarget?: string }) {
  const method = opts.method ?? "GET";
  const headers = signV2({ method, target: opts.signedTarget ?? opts.target, body: opts.signedBody, created: opts.created ?? nowSeconds() - 30 }, opts.key ?? ownerKey);
  const sent = opts.sentBody ?? opts.signedBody;
  const res = await fetch(fake.url + opts.target, { method, headers: { ...headers, ...(sent ? { "Content-Type": "application/json" } : {}) }, ...(sent ? { body: sent } : {}) });
  return { status: res.status, body: (await res.json()) as { message?: string } };
}

async function v1(opts: { signedBody: string; sentBody?: string; key?: typeof ownerKey }) {
  const res = await fetch(`${fake.url}/public`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ResourceType: "project", ResourceID: fake.state.projectHash, Authorization: signV1(opts.signedBody, opts.key ?? ownerKey) },
    body: opts.sentBody ?? opts.signedBody,
  });
  return { http: res.status, body: (await res.json()) as { status: number; response: unknown; payload?: unknown } };
}

const V1_BODY = JSON.stringify({ query_type: "labelrowmetadata", query_method: "GET", values: { uid: null, payload: {} } });

describe("fake Encord: v1 signatures", () => {
  it("accepts a correctly signed body", async () => {
    const { body } = await v1({ signedBody: V1_BODY });
    expect(body).toEqual({ status: 200, response: [] });
  });

  it("rejects a body that differs from the signed one, in the 200-body error shape", async () => {
    const { http, body } = await v1({ signedBody: V1_BODY, sentBody: V1_BODY.replace("{}", '{"x":1}') });
    expect(http).toBe(200);
    expect(body.response).toEqual(["AUTHENTICATION_ERROR"]);
  });

  it("rejects a key it does not know", async () => {
    const { body } = await v1({ signedBody: V1_BODY, key: strangerKey });
    expect(body.response).toEqual(["AUTHENTICATION_ERROR"]);
  });
});

describe("fake Encord: v2 signatures", () => {
  it("accepts a fresh signature (created back-dated 30 s, as the SDK does)", async () => {
    expect((await v2({ target: "/v2/public/cloud-integrations" })).status).toBe(200);
  });

  it("accepts a signed JSON body", async () => {
    const res = await v2({ target: "/v2/public/storage/folders", method: "POST", signedBody: JSON.stringify({ name: "signed" }) });
    expect(res.status).toBe(200);
  });

  it("rejects a wrong key with 401", async () => {
    const res = await v2({ target: "/v2/public/cloud-integrations", key: strangerKey });
    expect(res.status).toBe(401);
  });

  it("rejects a body that does not match its Content-Digest", async () => {
    const res = await v2({ target: "/v2/public/storage/folders", method: "POST", signedBody: '{"name":"a"}', sentBody: '{"name":"b"}' });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/Content-Digest/);
  });

  it("rejects a request target other than the signed one", async () => {
    const res = await v2({ target: "/v2/public/cloud-integrations?includeOrgAccess=True", signedTarget: "/v2/public/cloud-integrations" });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/does not verify/);
  });

  it("rejects a stale created (over 5 minutes old)", async () => {
    const res = await v2({ target: "/v2/public/cloud-integrations", created: nowSeconds() - 400 });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/expired/);
  });

  it("rejects a created in the future", async () => {
    const res = await v2({ target: "/v2/public/cloud-integrations", created: nowSeconds() + 120 });
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/future/);
  });

  it("rejects unsigned requests", async () => {
    const res = await fetch(`${fake.url}/v2/public/cloud-integrations`);
    expect(res.status).toBe(401);
  });
});
