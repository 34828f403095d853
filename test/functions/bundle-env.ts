/**
 * The environment Terraform gives a deployed function, computed the way infra/main.tf computes it:
 * the function's variable and secret names for the annotation backend come from
 * infra/deployables.json (`env`, `secrets`; test/infra/registry.test.ts evaluates the same with
 * terraform), each set only when `platform_env` + `loop_settings` (or `secret_ids`) has it. The
 * values are this test's (bucket names, the fakes' ids); the names are checked against main.tf, so
 * a variable Terraform starts or stops setting shows up here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Backend, FunctionName } from "../../shared/deployables.ts";

const INFRA = join(import.meta.dirname, "..", "..", "infra");

interface Manifest {
  functions: Record<string, { env: Record<Backend, string[]>; secrets: Record<Backend, string[]>; publishes: string[]; subscriptions: string[] }>;
  topics: string[];
}

export const manifest = JSON.parse(readFileSync(join(INFRA, "deployables.json"), "utf8")) as Manifest;

/** The keys of a `name = merge(...)` / `name = { ... }` local in main.tf (upper-case variable names). */
function localKeys(local: string): string[] {
  const text = readFileSync(join(INFRA, "main.tf"), "utf8");
  const start = text.indexOf(`  ${local} = `);
  if (start === -1) throw new Error(`local ${local} not found in infra/main.tf`);
  // The local ends at the next top-level attribute of the locals block (two-space indent).
  const rest = text.slice(start + 1);
  const end = rest.search(/\n {2}[a-z_]+ = /);
  const body = end === -1 ? rest : rest.slice(0, end);
  return [...new Set([...body.matchAll(/\b([A-Z][A-Z0-9_]+)\s+=/g)].map((m) => m[1]!))].sort();
}

/** platform_env names that depend on a Terraform variable, and whether this test turns them on. */
const CONDITIONAL = { SLACK_CHANNEL: "slack_channel", TRAINER_COMMAND: "trainer_command", LABEL_STUDIO_IMAGE_URL_PREFIX: "label_studio.image_url_prefix" } as const;
const ENCORD_SETTINGS = ["ENCORD_DATASET_HASH", "ENCORD_FOLDER", "ENCORD_INTEGRATION", "ENCORD_PROJECT_HASH"];
const LABELSTUDIO_SETTINGS = ["LABEL_STUDIO_URL", "LABEL_STUDIO_PROJECT"];
const LABELSTUDIO_SECRETS = ["LABEL_STUDIO_API_KEY", "LABEL_STUDIO_WEBHOOK_SECRET"];

export interface TerraformInputs {
  backend: Backend;
  /** Values for every name platform_env sets in this configuration (Slack off, no trainer_command). */
  platform: Record<string, string>;
  /** var.loop_settings, as in envs/<env>.tfvars. */
  loopSettings: Record<string, string>;
  /** Secret values by variable name (what Secret Manager holds). */
  secrets: Record<string, string>;
}

/** Checks that `platform` and `secrets` name exactly what main.tf sets for this backend. */
export function checkAgainstMainTf(inputs: TerraformInputs): void {
  const encord = inputs.backend === "encord";
  const labelstudio = inputs.backend === "labelstudio";
  const expectedPlatform = localKeys("platform_env").filter((k) => !(k in CONDITIONAL) && (encord || !ENCORD_SETTINGS.includes(k)) && (labelstudio || !LABELSTUDIO_SETTINGS.includes(k)));
  const givenPlatform = Object.keys(inputs.platform).sort();
  if (JSON.stringify(givenPlatform) !== JSON.stringify(expectedPlatform)) {
    throw new Error(`platform_env in infra/main.tf sets ${expectedPlatform.join(", ")}; the test gives ${givenPlatform.join(", ")}`);
  }
  const expectedSecrets = localKeys("secret_ids").filter((k) => k !== "SLACK_BOT_TOKEN" && k !== "SLACK_SIGNING_SECRET" && (encord || k !== "ENCORD_SSH_KEY") && (labelstudio || !LABELSTUDIO_SECRETS.includes(k)));
  const givenSecrets = Object.keys(inputs.secrets).sort();
  if (JSON.stringify(givenSecrets) !== JSON.stringify(expectedSecrets)) {
    throw new Error(`secret_ids in infra/main.tf has ${expectedSecrets.join(", ")}; the test gives ${givenSecrets.join(", ")}`);
  }
}

/** environment_variables + secret_environment_variables of one function, as Terraform sets them. */
export function terraformEnv(name: FunctionName, inputs: TerraformInputs): { env: Record<string, string>; secrets: Record<string, string> } {
  const fn = manifest.functions[name];
  if (!fn) throw new Error(`${name} is not in infra/deployables.json`);
  const values = { ...inputs.platform, ...inputs.loopSettings };
  const env = Object.fromEntries(fn.env[inputs.backend].filter((k) => k in values).map((k) => [k, values[k]!]));
  const secrets = Object.fromEntries(fn.secrets[inputs.backend].filter((k) => k in inputs.secrets).map((k) => [k, inputs.secrets[k]!]));
  return { env, secrets };
}
