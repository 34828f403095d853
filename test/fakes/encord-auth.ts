import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";

/**
 * Signature verification as the fake Encord server does it. Written from docs/encord.md §2.2/§2.3
 * directly (not by calling the client's signing code), so a client bug cannot hide behind a
 * shared helper.
 */

export type AuthVerdict = { ok: true } | { ok: false; reason: string };

const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function publicKeyObject(publicKeyHex: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(publicKeyHex, "hex")]), format: "der", type: "spki" });
}

/** v1: `Authorization: <pubHex>:<sigHex>`, Ed25519 over SHA-256 of the exact body bytes. */
export function verifyV1(authorization: string | undefined, body: Buffer, publicKeyHex: string): AuthVerdict {
  const m = /^([0-9a-f]{64}):([0-9a-f]{128})$/.exec(authorization ?? "");
  if (!m) return { ok: false, reason: "missing or malformed Authorization header" };
  if (m[1] !== publicKeyHex) return { ok: false, reason: "Your used SSH key does not exist in Encord" };
  const digest = createHash("sha256").update(body).digest();
  const good = verify(null, digest, publicKeyObject(publicKeyHex), Buffer.from(m[2]!, "hex"));
  return good ? { ok: true } : { ok: false, reason: "signature does not match the request body" };
}

export interface V2AuthInput {
  method: string;
  /** The raw request target (`req.url`): path plus query exactly as received. */
  target: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  publicKeyHex: string;
  nowSeconds: number;
  /** How old `created` may be. */
  maxAgeSeconds: number;
}

function header(headers: V2AuthInput["headers"], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** v2: RFC 9421 message signature over method, target and Content-Digest (checked against the body). */
export function verifyV2(input: V2AuthInput): AuthVerdict {
  const signatureInput = header(input.headers, "signature-input");
  const signature = header(input.headers, "signature");
  const digestHeader = header(input.headers, "content-digest");
  if (!signatureInput || !signature || !digestHeader) return { ok: false, reason: "missing signature headers" };

  const inputMatch = /^encord-sig=(\("@method" "@request-target" "content-digest"\);created=(\d+);keyid="([0-9a-f]+)";alg="ed25519")$/.exec(signatureInput);
  if (!inputMatch) return { ok: false, reason: "malformed Signature-Input" };
  const [, params, createdText, keyId] = inputMatch;
  if (keyId !== input.publicKeyHex) return { ok: false, reason: "unknown key id" };

  const created = Number(createdText);
  if (created > input.nowSeconds + 5) return { ok: false, reason: "signature created in the future" };
  if (input.nowSeconds - created > input.maxAgeSeconds) return { ok: false, reason: "signature expired" };

  const expectedDigest = `sha-256=:${createHash("sha256").update(input.body).digest("base64")}:`;
  if (digestHeader !== expectedDigest) return { ok: false, reason: "Content-Digest does not match the body" };

  const sigMatch = /^encord-sig=:([A-Za-z0-9+/=]+):$/.exec(signature);
  if (!sigMatch) return { ok: false, reason: "malformed Signature" };
  const base = [
    `"@method": ${input.method}`,
    `"@request-target": ${input.target}`,
    `"content-digest": ${digestHeader}`,
    `"@signature-params": ${params}`,
  ].join("\n");
  const good = verify(null, Buffer.from(base, "utf8"), publicKeyObject(input.publicKeyHex), Buffer.from(sigMatch[1]!, "base64"));
  return good ? { ok: true } : { ok: false, reason: "signature does not verify" };
}
