import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { PermanentError } from "../../shared/errors.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import type { MessageData, MessageType } from "../../shared/messages/topics.ts";
import type { ByteSource, Normaliser, NormalisedOutput } from "../../shared/ports.ts";

let counter = 0;

/** A validated envelope for tests. */
export function envelope<T extends MessageType>(type: T, data: MessageData<T>, id = `test-${type}-${++counter}`) {
  return buildEnvelope(type, data, { id, occurredAt: new Date() });
}

/**
 * A normaliser that does what the real one promises at the port (PNG out, PermanentError for
 * empty input) without sharp/geotiff work, so use-case tests stay about the use case.
 */
export function fakeNormaliser(options: { width?: number; height?: number; nodataRows?: number } = {}): Normaliser & { calls: number } {
  const width = options.width ?? 8;
  const height = options.height ?? 6;
  const fake = {
    calls: 0,
    async normalise(input: Uint8Array | ByteSource, fileName: string): Promise<NormalisedOutput> {
      fake.calls++;
      const first = input instanceof Uint8Array ? input.subarray(0, 1) : await input.read(0, 1);
      if (first.length === 0) throw new PermanentError("empty_object", `${fileName} is empty (0 bytes)`);
      const rgb = await sharpCodec.encodePng({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(first[0]!) });
      const nir = await sharpCodec.encodePng({ width, height, channels: 1, data: new Uint8Array(width * height).fill(7) });
      const rows = options.nodataRows ?? 0;
      const nodata = new Uint8Array(width * height);
      nodata.fill(255, 0, rows * width);
      return {
        kind: "product",
        productName: fileName.replace(/\.[^.]+$/, ""),
        width,
        height,
        images: [{ role: "rgb", png: rgb }, { role: "nir", png: nir }],
        nodataMask: rows ? await sharpCodec.encodePng({ width, height, channels: 1, data: nodata }) : null,
        nodataPixels: rows * width,
        bandCount: 4,
      };
    },
  };
  return fake;
}
