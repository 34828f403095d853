import { generateKeyPairSync, sign, verify } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PermanentError } from "../../../../shared/errors.ts";
import { ENCRYPTED_KEY_MESSAGE, loadEncordKey, openSshPublicLine, parseEncordKey } from "../../../../shared/adapters/encord/keys.ts";
import { ed25519PublicKeyOfSeed, generateTestKey, openSshEd25519, openSshEncryptedEd25519, openSshRsa, VECTOR_SEED } from "../../../fakes/encord-keys.ts";

// docs/encord.md §2.4: the public key of the seed 00..1f.
const VECTOR_PUBLIC_KEY_HEX = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";

function refusal(fn: () => unknown): PermanentError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PermanentError);
    return err as PermanentError;
  }
  throw new Error("expected the key to be refused");
}

describe("parseEncordKey", () => {
  it("reads an unencrypted OpenSSH Ed25519 key and derives the vector's public key", () => {
    const key = parseEncordKey(openSshEd25519(VECTOR_SEED));
    expect(key.publicKeyHex).toBe(VECTOR_PUBLIC_KEY_HEX);
    expect(key.privateKey.asymmetricKeyType).toBe("ed25519");
  });

  it("produces a private key whose signatures verify under the file's public key", () => {
    const { openssh, seed } = generateTestKey();
    const key = parseEncordKey(openssh);
    const message = Buffer.from("hello encord");
    // Signed by Node directly: this checks the PKCS#8 key built from the seed, not our signing code.
    const signature = sign(null, message, key.privateKey);
    const pub = ed25519PublicKeyOfSeed(seed);
    expect(key.publicKeyHex).toBe(pub.toString("hex"));
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), pub]);
    expect(verify(null, message, { key: spki, format: "der", type: "spki" }, signature)).toBe(true);
  });

  it("accepts keys pasted into an env file with literal \\n sequences", () => {
    const escaped = openSshEd25519(VECTOR_SEED).trimEnd().replace(/\n/g, "\\n");
    expect(parseEncordKey(escaped).publicKeyHex).toBe(VECTOR_PUBLIC_KEY_HEX);
  });

  it("accepts a PKCS#8 PEM Ed25519 key", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    expect(parseEncordKey(pem).publicKeyHex).toBe(raw.toString("hex"));
  });

  it("refuses an encrypted OpenSSH key with instructions to decrypt it", () => {
    const err = refusal(() => parseEncordKey(openSshEncryptedEd25519(VECTOR_SEED), "file /keys/id_ed25519"));
    expect(err.code).toBe("encord_key_encrypted");
    expect(err.message).toContain(ENCRYPTED_KEY_MESSAGE);
    expect(err.message).toContain('ssh-keygen -p -N "" -f');
    expect(err.message).toContain("file /keys/id_ed25519");
  });

  it("refuses an RSA OpenSSH key, naming the type", () => {
    const err = refusal(() => parseEncordKey(openSshRsa()));
    expect(err.code).toBe("encord_key_unsupported");
    expect(err.message).toContain("ssh-rsa");
    expect(err.message).toContain("Ed25519");
  });

  it("refuses a PEM RSA key", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const pem = privateKey.export({ format: "pem", type: "pkcs1" }).toString();
    const err = refusal(() => parseEncordKey(pem));
    expect(err.code).toBe("encord_key_unsupported");
  });

  it("explains garbage without echoing it", () => {
    const garbage = "this-is-not-a-key-0123456789abcdef";
    const err = refusal(() => parseEncordKey(garbage, "ENCORD_SSH_KEY"));
    expect(err.code).toBe("encord_key_invalid");
    expect(err.message).toContain("ENCORD_SSH_KEY");
    expect(err.message).not.toContain(garbage);
  });

  it("reports a truncated key as corrupt, without the key material in the message", () => {
    const text = openSshEd25519(VECTOR_SEED);
    const body = text.split("\n").slice(1, -2).join("");
    const truncated = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.slice(0, 120)}\n-----END OPENSSH PRIVATE KEY-----\n`;
    const err = refusal(() => parseEncordKey(truncated));
    expect(err.code).toBe("encord_key_invalid");
    expect(err.message).not.toContain(body.slice(0, 40));
  });

  it("detects a key whose private half does not match its public half", () => {
    const text = openSshEd25519(VECTOR_SEED);
    const raw = Buffer.from(text.split("\n").slice(1, -2).join(""), "base64");
    // Flip a byte of the 64-byte secret's seed half: the derived public key no longer matches.
    const secretAt = raw.lastIndexOf(ed25519PublicKeyOfSeed(VECTOR_SEED)) - 32;
    raw[secretAt] = raw[secretAt]! ^ 0xff;
    const tampered = `-----BEGIN OPENSSH PRIVATE KEY-----\n${raw.toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
    expect(refusal(() => parseEncordKey(tampered)).code).toBe("encord_key_invalid");
  });
});

describe("loadEncordKey", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("reads the key file named by ENCORD_SSH_KEY_FILE", async () => {
    const dir = await mkdtemp(join(tmpdir(), "encord-key-"));
    dirs.push(dir);
    const path = join(dir, "id_ed25519");
    await writeFile(path, openSshEd25519(VECTOR_SEED), { mode: 0o600 });
    expect((await loadEncordKey({ sshKeyFile: path })).publicKeyHex).toBe(VECTOR_PUBLIC_KEY_HEX);
  });

  it("says which file could not be read", async () => {
    await expect(loadEncordKey({ sshKeyFile: "/nonexistent/id_ed25519" })).rejects.toThrow(/file \/nonexistent\/id_ed25519.*ENOENT/);
  });

  it("asks for a key when none is configured", async () => {
    await expect(loadEncordKey({})).rejects.toMatchObject({ code: "encord_key_missing" });
  });
});

describe("openSshPublicLine", () => {
  it("writes the ssh-ed25519 line whose blob holds the raw public key", () => {
    const line = openSshPublicLine(VECTOR_PUBLIC_KEY_HEX);
    const blob = Buffer.from(line.split(" ")[1]!, "base64");
    // string "ssh-ed25519" (4 + 11 bytes), then string of 32 bytes.
    expect(blob.readUInt32BE(0)).toBe(11);
    expect(blob.subarray(4, 15).toString()).toBe("ssh-ed25519");
    expect(blob.readUInt32BE(15)).toBe(32);
    expect(blob.subarray(19).toString("hex")).toBe(VECTOR_PUBLIC_KEY_HEX);
  });
});
