/**
 * Serves the dashboard with the sample snapshot, for working on the page without a database:
 *
 *   node --import tsx shared/dashboard/preview.ts [port]     (default 8090)
 *
 * Object links resolve to a small generated JSON body so the links can be clicked through.
 */
import { createServer } from "node:http";
import { createLogger } from "../adapters/log/pino.ts";
import { sampleStatusSnapshot } from "./fixtures.ts";
import { createDashboardHandler } from "./http.ts";

const port = Number(process.argv[2] ?? 8090);
const logger = createLogger({ base: { component: "dashboard-preview" } });
const handler = createDashboardHandler({
  getSnapshot: async () => ({ ...sampleStatusSnapshot(), generatedAt: new Date().toISOString() }),
  readObject: async (uri) => ({ body: new TextEncoder().encode(`${JSON.stringify({ preview: true, uri }, null, 2)}\n`), contentType: "application/json; charset=utf-8" }),
  title: "MLOps loop (preview)",
  refreshSeconds: 10,
  logger,
});
createServer((req, res) => void handler(req, res)).listen(port, "127.0.0.1", () => {
  logger.info("dashboard preview listening", { url: `http://127.0.0.1:${port}/` });
});
