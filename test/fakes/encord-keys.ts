import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";

/**
 * Builds OpenSSH private key files inside tests, so no private key is ever committed. The layout
 * follows OpenSSH's PROTOCOL.key: magic, cipher, kdf, kdf options, key count, public blobs, and
 * the (here unencrypted) private section padded to the cipher block size (8 for "none").
 */

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** SSH mpint: big-endian two's complement, with a leading zero byte when the top bit is set. */
function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const trimmed = unsigned.subarray(i);
  return sshString(trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function pad(section: Buffer, blockSize = 8): Buffer {
  const padding: number[] = [];
  for (let i = 1; (section.length + padding.length) % blockSize !== 0; i++) padding.push(i & 0xff);
  return Buffer.concat([section, Buffer.from(padding)]);
}

function armour(raw: Buffer): string {
  const b64 = raw.toString("base64").replace(/.{1,70}/g, "$&\n");
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

function container(opts: { cipher: string; kdf: string; kdfOptions: Buffer; publicBlob: Buffer; privateSection: Buffer }): Buffer {
  return Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString(opts.cipher),
    sshString(opts.kdf),
    sshString(opts.kdfOptions),
    uint32(1),
    sshString(opts.publicBlob),
    sshString(opts.privateSection),
  ]);
}

/** The raw public key of an Ed25519 seed, via Node's own PKCS#8 loader (independent of keys.ts). */
export function ed25519PublicKeyOfSeed(seed: Buffer): Buffer {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const jwk = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({ format: "jwk" });
  return Buffer.from(jwk.x!, "base64url");
}

/** An unencrypted OpenSSH Ed25519 key file for a 32-byte seed. */
export function openSshEd25519(seed: Buffer, comment = "test@mlops"): string {
  const pub = ed25519PublicKeyOfSeed(seed);
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = randomBytes(4).readUInt32BE();
  const privateSection = pad(
    Buffer.concat([uint32(check), uint32(check), sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]),
  );
  return armour(container({ cipher: "none", kdf: "none", kdfOptions: Buffer.alloc(0), publicBlob, privateSection }));
}

/** A fresh random test key: the OpenSSH text and its public key hex. */
export function generateTestKey(): { openssh: string; publicKeyHex: string; seed: Buffer } {
  const seed = randomBytes(32);
  return { openssh: openSshEd25519(seed), publicKeyHex: ed25519PublicKeyOfSeed(seed).toString("hex"), seed };
}

/**
 * The shape `ssh-keygen -N passphrase` writes: aes256-ctr + bcrypt KDF. The private section is
 * random bytes standing in for ciphertext; a parser must refuse before trying to read it.
 */
export function openSshEncryptedEd25519(seed: Buffer): string {
  const pub = ed25519PublicKeyOfSeed(seed);
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const kdfOptions = Buffer.concat([sshString(randomBytes(16)), uint32(16)]);
  return armour(container({ cipher: "aes256-ctr", kdf: "bcrypt", kdfOptions, publicBlob, privateSection: randomBytes(160) }));
}

/** A real (freshly generated) RSA key in OpenSSH format. */
export function openSshRsa(): string {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const jwk = privateKey.export({ format: "jwk" });
  const b = (v: string | undefined) => Buffer.from(v!, "base64url");
  const publicBlob = Buffer.concat([sshString("ssh-rsa"), mpint(b(jwk.e)), mpint(b(jwk.n))]);
  const check = randomBytes(4).readUInt32BE();
  const privateSection = pad(
    Buffer.concat([
      uint32(check), uint32(check), sshString("ssh-rsa"),
      mpint(b(jwk.n)), mpint(b(jwk.e)), mpint(b(jwk.d)), mpint(b(jwk.qi)), mpint(b(jwk.p)), mpint(b(jwk.q)),
      sshString("rsa@test"),
    ]),
  );
  return armour(container({ cipher: "none", kdf: "none", kdfOptions: Buffer.alloc(0), publicBlob, privateSection }));
}

/** The test-vector seed of docs/encord.md §2.4: bytes 00, 01, …, 1f. */
export const VECTOR_SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
