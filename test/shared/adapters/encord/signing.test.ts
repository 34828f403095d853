import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseEncordKey } from "../../../../shared/adapters/encord/keys.ts";
import { contentDigest, signV1, signV2, signatureBase, signatureParams, v2Created } from "../../../../shared/adapters/encord/signing.ts";
import { openSshEd25519, VECTOR_SEED } from "../../../fakes/encord-keys.ts";

// All expected values below are the vectors of docs/encord.md §2.4 (produced by the Python SDK).
const PUB = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const V1_BODY = '{"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": null, "payload": {"data_title_eq": "x"}}}';
const V1_SIGNATURE = "9cd47bc12a2c19b79bb2568fe5eb8cfda261595f227fba16e0c86b9c6ffc8e09bf83c51c5eb8cf0bac34857ace8eb2d09d42b1b39260bedb88e8a6e11d294f08";
const V2_TARGET = "/v2/public/storage/folders?pageSize=100&signUrls=True";
const V2_SIGNATURE = "encord-sig=:k+88Hx8VTMrI5b26Jxmn0WMNmS/0tovFxn8mtkm48nrZlZ2AviuESiqUzYq/0Fr1r7KSzOW7opjmmd5Sd9oDCA==:";
const EMPTY_DIGEST = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";

const key = parseEncordKey(openSshEd25519(VECTOR_SEED));

describe("v1 signing", () => {
  it("matches the SDK's Authorization header for the vector's body", () => {
    expect(signV1(V1_BODY, key)).toBe(`${PUB}:${V1_SIGNATURE}`);
  });

  it("signs the bytes given: a different body gives a different signature", () => {
    expect(signV1(V1_BODY.replace('"x"', '"y"'), key)).not.toBe(`${PUB}:${V1_SIGNATURE}`);
  });
});

describe("v2 signing", () => {
  it("matches the SDK's Signature for the vector's GET with created=1700000000", () => {
    const created = v2Created(new Date(1_700_000_030_000));
    expect(created).toBe(1_700_000_000);
    const headers = signV2({ method: "GET", target: V2_TARGET, body: undefined, created }, key);
    expect(headers.Signature).toBe(V2_SIGNATURE);
    expect(headers["Content-Digest"]).toBe(EMPTY_DIGEST);
    expect(headers["Signature-Input"]).toBe(`encord-sig=("@method" "@request-target" "content-digest");created=1700000000;keyid="${PUB}";alg="ed25519"`);
  });

  it("back-dates created by 30 s and drops the fraction of a second", () => {
    expect(v2Created(new Date(1_700_000_030_999))).toBe(1_700_000_000);
  });

  it("digests a JSON body as base64 SHA-256 between colons", () => {
    const body = '{"name":"folder"}';
    expect(contentDigest(body)).toBe(`sha-256=:${createHash("sha256").update(body).digest("base64")}:`);
  });

  it("builds the RFC 9421 base as four lines with no trailing newline", () => {
    const base = signatureBase({ method: "get", target: "/x?a=1", contentDigest: EMPTY_DIGEST, signatureParams: signatureParams(5, PUB) });
    const lines = base.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('"@method": GET');
    expect(lines[1]).toBe('"@request-target": /x?a=1');
    expect(base.endsWith("\n")).toBe(false);
  });
});
