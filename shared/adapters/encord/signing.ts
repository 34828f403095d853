import { createHash, sign } from "node:crypto";
import type { EncordKey } from "./keys.ts";

/**
 * Encord's two request-signing schemes (docs/encord.md §2.2 and §2.3). Both sign with
 * Ed25519 and name the key by its raw public key in hex. What is signed must be the exact bytes
 * sent, so callers serialise the body once and pass the same bytes here and to `fetch`.
 */

/** Label of the signature in `Signature-Input` / `Signature` (the SDK's fixed name). */
export const SIGNATURE_LABEL = "encord-sig";

/** The SDK back-dates `created` by 30 s to absorb clock skew between client and server. */
export const CREATED_BACKDATE_SECONDS = 30;

const EMPTY = new Uint8Array(0);

function bytesOf(body: string | Uint8Array | null | undefined): Uint8Array {
  if (body == null) return EMPTY;
  return typeof body === "string" ? Buffer.from(body, "utf8") : body;
}

/** v1 (legacy query API): `Authorization: <pubkeyHex>:<hex Ed25519 signature of SHA-256(body)>`. */
export function signV1(body: string | Uint8Array, key: EncordKey): string {
  const digest = createHash("sha256").update(bytesOf(body)).digest();
  // The digest is signed, not the body (SshConfig._get_v1_signature).
  const signature = sign(null, digest, key.privateKey);
  return `${key.publicKeyHex}:${signature.toString("hex")}`;
}

/** `sha-256=:<base64 SHA-256 of the body>:`; an absent body counts as empty bytes. */
export function contentDigest(body: string | Uint8Array | null | undefined): string {
  return `sha-256=:${createHash("sha256").update(bytesOf(body)).digest("base64")}:`;
}

/** The signature parameters, in the SDK's fixed order: components, created, keyid, alg. */
export function signatureParams(created: number, keyId: string): string {
  return `("@method" "@request-target" "content-digest");created=${created};keyid="${keyId}";alg="ed25519"`;
}

export interface SignatureBaseInput {
  method: string;
  /** Path plus `?query`, byte for byte as sent. */
  target: string;
  contentDigest: string;
  signatureParams: string;
}

/** RFC 9421 signature base: four lines joined by `\n`, no trailing newline. */
export function signatureBase(input: SignatureBaseInput): string {
  return [
    `"@method": ${input.method.toUpperCase()}`,
    `"@request-target": ${input.target}`,
    `"content-digest": ${input.contentDigest}`,
    `"@signature-params": ${input.signatureParams}`,
  ].join("\n");
}

export interface V2SignInput {
  method: string;
  target: string;
  body: string | Uint8Array | null | undefined;
  /** Unix seconds for `created`; `v2Created(now)` gives the SDK's back-dated value. */
  created: number;
}

export interface V2SignatureHeaders {
  "Content-Digest": string;
  "Signature-Input": string;
  Signature: string;
}

/** v2 (REST): HTTP Message Signatures over method, request target and content digest. */
export function signV2(input: V2SignInput, key: EncordKey): V2SignatureHeaders {
  const digest = contentDigest(input.body);
  const params = signatureParams(input.created, key.publicKeyHex);
  const base = signatureBase({ method: input.method, target: input.target, contentDigest: digest, signatureParams: params });
  const signature = sign(null, Buffer.from(base, "utf8"), key.privateKey);
  return {
    "Content-Digest": digest,
    "Signature-Input": `${SIGNATURE_LABEL}=${params}`,
    Signature: `${SIGNATURE_LABEL}=:${signature.toString("base64")}:`,
  };
}

/** `created` for a request sent at `now`: whole seconds, back-dated 30 s. */
export function v2Created(now: Date): number {
  return Math.floor(now.getTime() / 1000) - CREATED_BACKDATE_SECONDS;
}
