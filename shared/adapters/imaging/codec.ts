import sharp from "sharp";
import { PermanentError } from "../../errors.ts";
import type { DecodedRaster, ImageCodec } from "../../ports.ts";

/**
 * PNG decode/encode through sharp (libvips). Greyscale stays greyscale both ways: libvips would
 * otherwise convert to sRGB and hand back (or write) three identical channels.
 */
export const sharpCodec: ImageCodec = {
  async decodePng(png: Uint8Array): Promise<DecodedRaster> {
    try {
      const image = sharp(png);
      const meta = await image.metadata();
      const grey = meta.space === "b-w" || meta.space === "grey16" || meta.channels === 1;
      const { data, info } = await (grey ? image.toColourspace("b-w").extractChannel(0) : image).raw().toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    } catch (err) {
      throw new PermanentError("corrupt_image", `cannot decode image: ${(err as Error).message}`, { cause: err });
    }
  },

  async encodePng(raster: DecodedRaster): Promise<Buffer> {
    const { width, height, channels, data } = raster;
    if (![1, 2, 3, 4].includes(channels)) throw new Error(`encodePng: unsupported channel count ${channels}`);
    if (data.length !== width * height * channels) {
      throw new Error(`encodePng: ${data.length} bytes for ${width}×${height}×${channels}`);
    }
    const image = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
      raw: { width, height, channels: channels as 1 | 2 | 3 | 4 },
    });
    return (channels === 1 ? image.toColourspace("b-w") : image).png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
  },
};
