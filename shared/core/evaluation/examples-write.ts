import type { ImageCodec, ObjectStore } from "../../ports.ts";
import { joinUri } from "../uri.ts";
import { NODATA_COLOUR, OUT_OF_RANGE_COLOUR, classColour, colouriseMask, type ExampleItem, type ExampleSelection } from "./examples.ts";
import type { ExampleItemResult, Examples } from "./report.ts";

/**
 * Encodes the kept examples as PNGs and writes each under `<prefix>examples/<sha256>.png`. Content
 * addressing makes a re-run write the same names, and a picture both models share (the input and
 * label of an item that is among both models' extremes) is stored once.
 */
export async function writeExamples(
  selection: ExampleSelection<ExampleItem>,
  datasetClasses: readonly string[],
  prefix: string,
  deps: { store: ObjectStore; codec: ImageCodec },
): Promise<Examples> {
  const put = async (raster: ExampleItem["input"]): Promise<string> => {
    const png = await deps.codec.encodePng(raster);
    const { info } = await deps.store.putAddressed(once(png), (sha256) => joinUri(prefix, "examples", `${sha256}.png`), { contentType: "image/png", ifAbsent: true });
    return info.uri;
  };
  const render = async (item: ExampleItem): Promise<ExampleItemResult> => ({
    itemId: item.itemId,
    score: item.score,
    pixelAccuracy: item.pixelAccuracy,
    width: item.input.width,
    height: item.input.height,
    sourceWidth: item.sourceWidth,
    sourceHeight: item.sourceHeight,
    input: await put(item.input),
    label: await put(colouriseMask(item.label)),
    prediction: await put(colouriseMask(item.prediction, item.label)),
  });
  const worst: ExampleItemResult[] = [];
  for (const item of selection.worst) worst.push(await render(item));
  const best: ExampleItemResult[] = [];
  for (const item of selection.best) best.push(await render(item));
  return {
    metric: "mIoU",
    worst,
    best,
    palette: { classes: datasetClasses.map((_, id) => classColour(id)), nodata: NODATA_COLOUR, outOfRange: OUT_OF_RANGE_COLOUR },
  };
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
