// ESLint flat config. The one rule that matters most for the architecture is at the bottom:
// `shared/core` stays pure (no SDKs, no pg, no fs, no network), so use cases run the same in the
// local runtime, in Cloud Functions and in tests with fakes.
import tseslint from "typescript-eslint";

const sdkAndIo = [
  "pg", "pg-*", "@electric-sql/*", "@google-cloud/*", "@slack/*", "onnxruntime-node", "sharp", "geotiff",
  "fflate", "pino", "protobufjs",
  "fs", "node:fs", "fs/*", "node:fs/*", "net", "node:net", "http", "node:http", "https", "node:https",
  "child_process", "node:child_process", "dgram", "node:dgram", "tls", "node:tls", "http2", "node:http2",
  "**/adapters/**", "**/runtime/**",
];

export default tseslint.config(
  { ignores: ["node_modules/**", "dist/**", ".mlops*/**", "infra/**", "coverage/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      curly: ["error", "multi-line"],
      eqeqeq: ["error", "smart"],
      // `import { z } from "zod"` makes esbuild keep all of zod (every locale included: 464 KB
      // instead of 109 KB in the CLI and function bundles, ~70 ms of a cold start); the namespace
      // import lets it drop what is unused.
      "no-restricted-syntax": [
        "error",
        { selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier", message: 'Import zod as a namespace: import * as z from "zod".' },
      ],
    },
  },
  {
    files: ["shared/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: sdkAndIo, message: "shared/core is pure: pass an adapter in through a port instead." }] },
      ],
      "no-restricted-globals": ["error", { name: "fetch", message: "shared/core does no network I/O." }, { name: "process", message: "shared/core reads no environment: take config as a parameter." }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
