#!/usr/bin/env node
// The `mlops` command. The project runs its TypeScript sources directly through tsx, so a fresh
// clone needs no build step; deployable bundles come from `npm run build`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../shared/cli/main.ts");
await main(process.argv);
