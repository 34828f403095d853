/**
 * A wire-level fake of the Pub/Sub Publisher gRPC service, for code that talks to Pub/Sub through
 * `@google-cloud/pubsub` with `PUBSUB_EMULATOR_HOST` set (insecure gRPC, no credentials; the
 * client's own emulator mode). It serves `google.pubsub.v1.Publisher/Publish` from the client's
 * own service definition (@google-cloud/pubsub build/protos/protos.json, i.e. pubsub.proto) and
 * checks what the real service checks:
 *   - the topic must exist: NOT_FOUND "Resource not found (resource=<topic>)";
 *   - the caller must hold pubsub.topics.publish on it: PERMISSION_DENIED "User not authorized to
 *     perform this action." (each instance plays one identity, granted the topics it is given);
 *   - a request needs messages, and each message data or attributes: INVALID_ARGUMENT
 *     (PublishRequest/PubsubMessage field docs in pubsub.proto).
 * Every other RPC answers UNIMPLEMENTED, so an unexpected call fails loudly.
 */
import { createRequire } from "node:module";
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";

const require = createRequire(import.meta.url);

export interface PublishedMessage {
  topic: string;
  data: Buffer;
  attributes: Record<string, string>;
  messageId: string;
}

export interface PubsubFake {
  /** For PUBSUB_EMULATOR_HOST: host:port. */
  host: string;
  published: PublishedMessage[];
  /** Publish calls refused, with the status they got. */
  refused: { topic: string; code: number; details: string }[];
  close(): Promise<void>;
}

interface PublishRequest {
  topic: string;
  messages: { data?: Buffer; attributes?: Record<string, string>; orderingKey?: string }[];
}

export async function startPubsubFake(options: { project: string; topics: readonly string[]; granted: readonly string[] }): Promise<PubsubFake> {
  const definition = fromJSON(require("@google-cloud/pubsub/build/protos/protos.json") as never, { keepCase: false, longs: String, defaults: true });
  const service = definition["google.pubsub.v1.Publisher"] as unknown as Record<string, unknown>;
  const name = (topic: string) => `projects/${options.project}/topics/${topic}`;
  const topics = new Set(options.topics.map(name));
  const granted = new Set(options.granted.map(name));
  const published: PublishedMessage[] = [];
  const refused: PubsubFake["refused"] = [];
  let nextId = 1;

  const fail = (callback: sendUnaryData<unknown>, topic: string, code: number, details: string) => {
    refused.push({ topic, code, details });
    callback({ code, details, name: "Error", message: details });
  };
  const implementation: UntypedServiceImplementation = {};
  for (const method of Object.keys(service)) {
    implementation[method] = (_call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) =>
      callback({ code: status.UNIMPLEMENTED, details: `fake Pub/Sub does not implement ${method}`, name: "Error", message: method });
  }
  implementation.Publish = (call: ServerUnaryCall<PublishRequest, unknown>, callback: sendUnaryData<unknown>) => {
    const { topic, messages } = call.request;
    if (!topics.has(topic)) return fail(callback, topic, status.NOT_FOUND, `Resource not found (resource=${topic.split("/").pop()}).`);
    if (!granted.has(topic)) return fail(callback, topic, status.PERMISSION_DENIED, "User not authorized to perform this action.");
    if (messages.length === 0) return fail(callback, topic, status.INVALID_ARGUMENT, "The request contains no messages.");
    const ids: string[] = [];
    for (const m of messages) {
      const data = Buffer.from(m.data ?? []);
      const attributes = m.attributes ?? {};
      if (data.length === 0 && Object.keys(attributes).length === 0) return fail(callback, topic, status.INVALID_ARGUMENT, "A message needs data or attributes.");
      const messageId = String(nextId++);
      published.push({ topic: topic.split("/").pop()!, data, attributes, messageId });
      ids.push(messageId);
    }
    callback(null, { messageIds: ids });
  };

  const server = new Server();
  server.addService(service as never, implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    host: `127.0.0.1:${port}`,
    published,
    refused,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
