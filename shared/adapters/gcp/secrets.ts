import { PermanentError, TransientError } from "../../errors.ts";

/**
 * Secrets reach functions and jobs as environment variables: Terraform wires Secret Manager
 * versions in with `secret_environment_variables` (functions) and `secret_key_ref` (jobs), so the
 * common path needs no SDK call at all.
 *
 * For the odd value that is only known at run time (a CLI run on a laptop, a job override), an
 * environment value may instead be a reference `sm://<secret>` or
 * `sm://projects/<project>/secrets/<secret>/versions/<version>`, resolved here through
 * `@google-cloud/secret-manager`. Secret values are never logged, and error messages name the
 * variable and the secret, never the value.
 */

const REFERENCE = /^sm:\/\/(?:projects\/([^/]+)\/secrets\/([^/]+)(?:\/versions\/([^/]+))?|([A-Za-z0-9_-]{1,255}))$/;

/** The minimal Secret Manager call; tests pass a fake. */
export interface SecretAccessor {
  access(versionName: string): Promise<string>;
}

export function isSecretReference(value: string | undefined): value is string {
  return value !== undefined && value.startsWith("sm://");
}

/** `sm://name` → `projects/<project>/secrets/name/versions/latest`. */
export function secretVersionName(reference: string, defaultProject: string | undefined): string {
  const m = REFERENCE.exec(reference);
  if (!m) throw new PermanentError("bad_secret_reference", `not a secret reference (sm://<secret> or sm://projects/<p>/secrets/<s>/versions/<v>): ${reference}`);
  if (m[4]) {
    if (!defaultProject) throw new PermanentError("bad_secret_reference", `${reference} needs GOOGLE_CLOUD_PROJECT to be set`);
    return `projects/${defaultProject}/secrets/${m[4]}/versions/latest`;
  }
  return `projects/${m[1]}/secrets/${m[2]}/versions/${m[3] ?? "latest"}`;
}

/**
 * Returns a copy of `env` with every `sm://` value replaced by the secret's payload. When no value
 * is a reference, the SDK is never loaded.
 */
export async function resolveSecretReferences(
  env: Record<string, string | undefined>,
  accessor?: SecretAccessor,
): Promise<Record<string, string | undefined>> {
  const references = Object.entries(env).filter((entry): entry is [string, string] => isSecretReference(entry[1]));
  if (references.length === 0) return env;
  const secrets = accessor ?? (await secretManagerAccessor());
  const resolved = { ...env };
  for (const [key, reference] of references) {
    const name = secretVersionName(reference, env.GOOGLE_CLOUD_PROJECT);
    try {
      resolved[key] = await secrets.access(name);
    } catch (err) {
      throw mapSecretError(err, key, name);
    }
  }
  return resolved;
}

export async function secretManagerAccessor(): Promise<SecretAccessor> {
  const { SecretManagerServiceClient } = await import("@google-cloud/secret-manager");
  const client = new SecretManagerServiceClient();
  return {
    async access(versionName) {
      const [version] = await client.accessSecretVersion({ name: versionName });
      const data = version.payload?.data;
      if (data === null || data === undefined) throw new PermanentError("empty_secret", `secret version ${versionName} has no payload`);
      return typeof data === "string" ? data : Buffer.from(data).toString("utf8");
    },
  };
}

function mapSecretError(err: unknown, key: string, name: string): Error {
  if (err instanceof PermanentError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 5) return new PermanentError("secret_not_found", `${key}: secret version ${name} does not exist`);
  if (code === 7) return new PermanentError("secret_forbidden", `${key}: not allowed to read ${name} (grant roles/secretmanager.secretAccessor on it)`);
  // Deliberately no `cause`: a gRPC error can echo request metadata, and this message may be logged.
  return new TransientError(`${key}: reading secret ${name} failed (code ${String(code)})`);
}
