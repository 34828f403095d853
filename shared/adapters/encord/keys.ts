import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PermanentError } from "../../errors.ts";

/**
 * Loads the Encord SSH key. Encord identifies a caller by a raw Ed25519 public key and both of its
 * signing schemes use Ed25519, so that is the only key type accepted.
 *
 * Node 20's `createPrivateKey` refuses `-----BEGIN OPENSSH PRIVATE KEY-----`, so the
 * `openssh-key-v1` container is parsed here and the seed re-wrapped as PKCS#8 DER, which Node does
 * load. PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) Ed25519 keys are accepted too.
 *
 * Every error message names the key's *source* (a file path or the variable name), never its
 * content: these messages end up in logs and alerts.
 */
export interface EncordKey {
  readonly privateKey: KeyObject;
  /** Raw 32-byte public key, lower-case hex: the key id in both signing schemes. */
  readonly publicKeyHex: string;
}

export const ENCRYPTED_KEY_MESSAGE =
  'encrypted OpenSSH keys are not supported: decrypt it with `ssh-keygen -p -N "" -f <file>` or provide an unencrypted deploy key';

const OPENSSH_MAGIC = Buffer.from("openssh-key-v1\0", "latin1");
/** ASN.1 prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
/** ASN.1 prefix of an SPKI Ed25519 public key; the 32-byte key follows. */
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

function keyError(code: string, source: string, reason: string): PermanentError {
  return new PermanentError(code, `Encord SSH key (${source}): ${reason}`);
}

/** Where the key comes from: a path (`ENCORD_SSH_KEY_FILE`) or the key text (`ENCORD_SSH_KEY`). */
export interface KeySource {
  sshKeyFile?: string | undefined;
  sshKey?: string | undefined;
}

/** Reads and parses the configured key; the file wins when both are set (as in the Encord SDK). */
export async function loadEncordKey(source: KeySource): Promise<EncordKey> {
  if (source.sshKeyFile) {
    const path = source.sshKeyFile.replace(/^~(?=$|\/)/, process.env.HOME ?? "~");
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      const code = (err as { code?: string }).code ?? "read error";
      throw keyError("encord_key_unreadable", `file ${source.sshKeyFile}`, `cannot read the file (${code})`);
    }
    return parseEncordKey(text, `file ${source.sshKeyFile}`);
  }
  if (source.sshKey) return parseEncordKey(source.sshKey, "ENCORD_SSH_KEY");
  throw new PermanentError("encord_key_missing", "no Encord SSH key configured: set ENCORD_SSH_KEY_FILE (a path) or ENCORD_SSH_KEY (the key)");
}

/** Parses key text (OpenSSH or PKCS#8 PEM). `source` only labels error messages. */
export function parseEncordKey(text: string, source = "key"): EncordKey {
  // Keys pasted into an env file often arrive with literal "\n" sequences instead of newlines.
  const normalised = text.includes("\\n") && !text.includes("\n") ? text.replace(/\\n/g, "\n") : text;
  const pem = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(normalised);
  if (!pem) {
    throw keyError("encord_key_invalid", source, "not a private key (expected an OpenSSH `-----BEGIN OPENSSH PRIVATE KEY-----` block)");
  }
  const label = pem[1]!;
  switch (label) {
    case "OPENSSH PRIVATE KEY":
      return parseOpenSsh(decodeBase64Strict(pem[2]!, source), source);
    case "PRIVATE KEY":
      return fromPkcs8Pem(pem[0], source);
    case "ENCRYPTED PRIVATE KEY":
      throw keyError("encord_key_encrypted", source, "encrypted private keys are not supported: provide an unencrypted Ed25519 deploy key");
    default:
      throw keyError("encord_key_unsupported", source, `a ${label.replace(/ PRIVATE KEY$/, "")} key is not supported: Encord needs an Ed25519 key (ssh-keygen -t ed25519)`);
  }
}

function decodeBase64Strict(body: string, source: string): Buffer {
  const compact = body.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw keyError("encord_key_invalid", source, "the key body is not valid base64");
  return Buffer.from(compact, "base64");
}

/** Bounds-checked reader for the SSH wire encoding (RFC 4251 §5: uint32 BE, length-prefixed strings). */
class SshReader {
  private offset = 0;
  constructor(private readonly buf: Buffer, private readonly source: string) {}

  uint32(): number {
    if (this.offset + 4 > this.buf.length) throw this.truncated();
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  bytes(): Buffer {
    const len = this.uint32();
    if (this.offset + len > this.buf.length) throw this.truncated();
    const out = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return out;
  }

  text(): string {
    return this.bytes().toString("latin1");
  }

  skip(n: number): void {
    if (this.offset + n > this.buf.length) throw this.truncated();
    this.offset += n;
  }

  rest(): Buffer {
    return this.buf.subarray(this.offset);
  }

  private truncated(): PermanentError {
    return keyError("encord_key_invalid", this.source, "the OpenSSH key is truncated or corrupt");
  }
}

function parseOpenSsh(raw: Buffer, source: string): EncordKey {
  if (raw.length < OPENSSH_MAGIC.length || !raw.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) {
    throw keyError("encord_key_invalid", source, "not an openssh-key-v1 key");
  }
  const r = new SshReader(raw, source);
  r.skip(OPENSSH_MAGIC.length);
  const cipherName = r.text();
  const kdfName = r.text();
  r.bytes(); // kdf options: empty for unencrypted keys
  if (cipherName !== "none" || kdfName !== "none") throw keyError("encord_key_encrypted", source, ENCRYPTED_KEY_MESSAGE);
  const keyCount = r.uint32();
  if (keyCount !== 1) throw keyError("encord_key_invalid", source, `expected one key in the file, found ${keyCount}`);

  const publicBlob = new SshReader(r.bytes(), source);
  const publicType = publicBlob.text();
  if (publicType !== "ssh-ed25519") {
    throw keyError("encord_key_unsupported", source, `a ${publicType} key is not supported: Encord needs an Ed25519 key (ssh-keygen -t ed25519)`);
  }
  const publicKey = publicBlob.bytes();

  const priv = new SshReader(r.bytes(), source);
  // Two equal random check words: for an encrypted key they tell a wrong passphrase; here they
  // catch corruption.
  if (priv.uint32() !== priv.uint32()) throw keyError("encord_key_invalid", source, "the OpenSSH key's check words differ (corrupt key)");
  if (priv.text() !== "ssh-ed25519") throw keyError("encord_key_invalid", source, "the private section does not hold an Ed25519 key");
  const privatePublic = priv.bytes();
  const secret = priv.bytes(); // seed (32) ‖ public key (32)
  if (publicKey.length !== 32 || secret.length !== 64 || !privatePublic.equals(publicKey) || !secret.subarray(32).equals(publicKey)) {
    throw keyError("encord_key_invalid", source, "the Ed25519 key parts are inconsistent (corrupt key)");
  }
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secret.subarray(0, 32)]), format: "der", type: "pkcs8" });
  const derived = rawPublicKey(privateKey);
  if (!derived.equals(publicKey)) throw keyError("encord_key_invalid", source, "the public key does not match the private key (corrupt key)");
  return { privateKey, publicKeyHex: derived.toString("hex") };
}

function fromPkcs8Pem(pem: string, source: string): EncordKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw keyError("encord_key_invalid", source, "the PKCS#8 key could not be parsed");
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw keyError("encord_key_unsupported", source, `a ${privateKey.asymmetricKeyType ?? "unknown"} key is not supported: Encord needs an Ed25519 key`);
  }
  return { privateKey, publicKeyHex: rawPublicKey(privateKey).toString("hex") };
}

/** The raw 32-byte Ed25519 public key of a private key. */
export function rawPublicKey(privateKey: KeyObject): Buffer {
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  return spki.subarray(spki.length - 32);
}

/** A public KeyObject from the raw 32-byte key (the fake server verifies signatures with it). */
export function publicKeyFromHex(publicKeyHex: string): KeyObject {
  const raw = Buffer.from(publicKeyHex, "hex");
  if (raw.length !== 32) throw new Error("an Ed25519 public key has 32 bytes (64 hex characters)");
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

/** `ssh-ed25519 AAAA…`: the public line to register in Encord (public, safe to print). */
export function openSshPublicLine(publicKeyHex: string, comment = ""): string {
  const string = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, (b.length >> 8) & 0xff, b.length & 0xff]), b]);
  const blob = Buffer.concat([string(Buffer.from("ssh-ed25519")), string(Buffer.from(publicKeyHex, "hex"))]);
  return `ssh-ed25519 ${blob.toString("base64")}${comment ? ` ${comment}` : ""}`;
}
