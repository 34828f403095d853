export * from "./envelope.ts";
export * from "./events.ts";
export * from "./commands.ts";
export * from "./topics.ts";
export * from "./build.ts";
