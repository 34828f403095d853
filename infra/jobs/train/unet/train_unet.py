#!/usr/bin/env python3
"""Reference PyTorch trainer: a compact U-Net for semantic segmentation, behind the training job contract.

Selected with TRAINER_COMMAND=builtin:unet (docs/jobs.md). Like every trainer it is a child process of
the train wrapper (functions/jobs/train.ts) and talks to it only through the environment and files:

  DATA_DIR         the dataset: manifest.json, images/<item>/{rgb,nir,image}.png, exports/masks/<item>.png
  OUTPUT_DIR       model.onnx, model.json (model-card/v1) and metrics.json go here
  CHECKPOINT_DIR   checkpoint-epoch-NNNN.pt after every epoch (the last two kept) and metrics.jsonl,
                   one line per epoch; the wrapper uploads this folder every 30 s and on SIGTERM
  PARAMS           JSON object, keys below; unknown keys are reported and ignored
  BASE_MODEL_PATH  ignored (printed): a U-Net warm start needs a U-Net checkpoint, not an ONNX file

PARAMS (defaults): epochs 20, batchSize 8, learningRate 0.002, weightDecay 0.0001, seed 0, width 16
(channels of the first level), tileSize 128 (random training crops), tilesPerImage 4 (crops per image
and epoch), holdoutFraction 0.2 (whole images kept for the per-epoch validation), device "auto"
("cuda" when available, else "cpu"), amp true (float16 autocast and loss scaling, CUDA only),
threads 0 (torch's default).

Determinism: the weights start from the seed; epoch e draws its crops and order from (seed, e), never
from a generator carried across epochs, so a run resumed after epoch e trains exactly as one that was
never stopped. Exit codes: 0 done, 2 bad input (the run fails), 1 anything else (the run resumes).
"""

import hashlib
import json
import math
import os
import random
import sys
import time

EXIT_BAD_INPUT = 2
TRAINER_NAME = "unet-torch"
TRAINER_VERSION = "1"
INPUT_NAME = "input"
OUTPUT_NAME = "logits"
IGNORE_LABEL = 255
PIXEL_SCALE = 1 / 255
CHECKPOINTS_KEPT = 2
DEFAULTS = {
    "epochs": 20,
    "batchSize": 8,
    "learningRate": 0.002,
    "weightDecay": 0.0001,
    "seed": 0,
    "width": 16,
    "tileSize": 128,
    "tilesPerImage": 4,
    "holdoutFraction": 0.2,
    "device": "auto",
    "amp": True,
    "threads": 0,
}


class BadInput(Exception):
    """Input that retrying cannot fix: the trainer exits 2 and the run fails with this message."""


def say(line):
    print(line, flush=True)


# --- inputs ---------------------------------------------------------------------------------------


def read_params(text):
    try:
        raw = json.loads(text or "{}")
    except ValueError as err:
        raise BadInput(f"PARAMS is not JSON: {err}")
    if not isinstance(raw, dict):
        raise BadInput("PARAMS must be a JSON object")
    params = dict(DEFAULTS)
    ignored = sorted(k for k in raw if k not in DEFAULTS)
    for key, default in DEFAULTS.items():
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise BadInput(f"PARAMS.{key} must be true or false")
        elif isinstance(default, int):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise BadInput(f"PARAMS.{key} must be a non-negative integer")
        elif isinstance(default, float):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise BadInput(f"PARAMS.{key} must be a non-negative number")
            value = float(value)
        elif key == "device" and value not in ("auto", "cpu", "cuda"):
            raise BadInput('PARAMS.device must be "auto", "cpu" or "cuda"')
        params[key] = value
    for key in ("epochs", "batchSize", "width", "tileSize", "tilesPerImage"):
        if params[key] < 1:
            raise BadInput(f"PARAMS.{key} must be at least 1")
    if params["holdoutFraction"] >= 1:
        raise BadInput("PARAMS.holdoutFraction must be below 1")
    return params, ignored


def canonical_json(value):
    """The project's canonical JSON (shared/core/json.ts): sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read_manifest(data_dir):
    path = os.path.join(data_dir, "manifest.json")
    try:
        with open(path, "rb") as f:
            raw = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as err:
        raise BadInput(f"cannot read {path}: {err}")
    if not isinstance(raw, dict) or raw.get("schema") not in ("dataset-manifest/v1", "dataset-manifest/v2", "dataset-manifest/v3"):
        raise BadInput("manifest.json is not a dataset-manifest/v1, v2 or v3 document")
    # The version id is the SHA-256 of the manifest in canonical JSON (shared/core/datasets/freeze.ts).
    version_id = hashlib.sha256(canonical_json(raw).encode("utf-8")).hexdigest()
    if raw["schema"] == "dataset-manifest/v3":
        raw = dict(raw, items=read_pages(data_dir, raw))
    return raw, version_id


def read_pages(data_dir, manifest):
    """A v3 manifest's items: its pages in manifest-pages/<sha256>.json, each checked against its SHA-256."""
    items = []
    for page in manifest.get("pages", []):
        sha = str(page.get("sha256", ""))
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise BadInput(f"manifest.json lists a page without a SHA-256: {sha!r}")
        path = os.path.join(data_dir, "manifest-pages", f"{sha}.json")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as err:
            raise BadInput(f"cannot read the manifest page {path}: {err}")
        if hashlib.sha256(data).hexdigest() != sha:
            raise BadInput(f"manifest page {path} does not match its SHA-256")
        entries = json.loads(data.decode("utf-8"))
        if not isinstance(entries, list) or len(entries) != page.get("count"):
            raise BadInput(f"manifest page {path} does not hold {page.get('count')} entries")
        items.extend(entries)
    if len(items) != manifest.get("itemCount"):
        raise BadInput(f"manifest.json lists {manifest.get('itemCount')} items, its pages hold {len(items)}")
    return items


def channels_for(items):
    return ["red", "green", "blue", "nir"] if all(i["images"].get("nir") for i in items) else ["red", "green", "blue"]


def load_png(path, what):
    from PIL import Image
    import numpy as np

    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except (OSError, ValueError) as err:
        raise BadInput(f"{what}: cannot read {path} ({err})")


def load_item(data_dir, item, channels, num_classes):
    """(planes [C,H,W] uint8, labels [H,W] uint8 with IGNORE_LABEL on nodata)."""
    import numpy as np

    item_id = item["itemId"]
    role = "rgb" if item["images"].get("rgb") else "image" if item["images"].get("image") else None
    if role is None:
        raise BadInput(f"item {item_id} has no rgb or image entry in the manifest")
    colour = load_png(os.path.join(data_dir, "images", item_id, f"{role}.png"), f"item {item_id}")
    mask = load_png(os.path.join(data_dir, "exports", "masks", f"{item_id}.png"), f"item {item_id} mask export")
    if mask.ndim == 3:
        mask = mask[..., 0]
    height, width = mask.shape
    if colour.shape[0] != height or colour.shape[1] != width:
        raise BadInput(f"item {item_id}: {role}.png is {colour.shape[1]}×{colour.shape[0]} but its mask is {width}×{height}")
    planes = []
    nir = None
    for band in channels:
        if band == "nir":
            if nir is None:
                nir = load_png(os.path.join(data_dir, "images", item_id, "nir.png"), f"item {item_id}")
                if nir.shape[0] != height or nir.shape[1] != width:
                    raise BadInput(f"item {item_id}: nir.png is {nir.shape[1]}×{nir.shape[0]} but its mask is {width}×{height}")
            planes.append(nir if nir.ndim == 2 else nir[..., 0])
        elif colour.ndim == 2:
            planes.append(colour)  # grey images feed every colour channel, as in the evaluator
        else:
            planes.append(colour[..., {"red": 0, "green": 1, "blue": 2}[band]])
    labels = mask.astype(np.uint8)
    bad = (labels != IGNORE_LABEL) & (labels >= num_classes)
    if bad.any():
        raise BadInput(f"item {item_id}: its mask holds class id {int(labels[bad].max())}, the dataset has {num_classes} classes")
    return np.stack(planes).astype(np.uint8), labels


# --- model ----------------------------------------------------------------------------------------


def build_model(in_channels, num_classes, width):
    import torch
    from torch import nn
    import torch.nn.functional as F

    def block(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        """Three levels (w, 2w, 4w channels) and a 8w bottleneck. Any input size: pooling rounds up
        and each decoder level is resized to its skip connection's size, so model.json says
        height = width = null and the evaluator may feed whole images or tiles."""

        def __init__(self):
            super().__init__()
            w = width
            self.enc = nn.ModuleList([block(in_channels, w), block(w, 2 * w), block(2 * w, 4 * w)])
            self.pool = nn.MaxPool2d(2, ceil_mode=True)
            self.bottleneck = block(4 * w, 8 * w)
            self.reduce = nn.ModuleList([nn.Conv2d(8 * w, 4 * w, 1), nn.Conv2d(4 * w, 2 * w, 1), nn.Conv2d(2 * w, w, 1)])
            self.dec = nn.ModuleList([block(8 * w, 4 * w), block(4 * w, 2 * w), block(2 * w, w)])
            self.head = nn.Conv2d(w, num_classes, 1)

        def forward(self, x):
            skips = []
            for enc in self.enc:
                x = enc(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottleneck(x)
            for reduce, dec, skip in zip(self.reduce, self.dec, reversed(skips)):
                x = F.interpolate(reduce(x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
                x = dec(torch.cat([x, skip], dim=1))
            return self.head(x)

    return UNet()


# --- training -------------------------------------------------------------------------------------


def derive_seed(seed, label):
    return int.from_bytes(hashlib.sha256(f"{seed}:{label}".encode()).digest()[:8], "big") & 0x7FFFFFFF


def random_crops(images, tile, count, rng):
    """`count` crops per image (whole image when smaller than the tile), image order shuffled."""
    crops = []
    for index, (planes, _labels) in enumerate(images):
        _, h, w = planes.shape
        for _ in range(count):
            y = rng.randrange(0, h - tile + 1) if h > tile else 0
            x = rng.randrange(0, w - tile + 1) if w > tile else 0
            crops.append((index, y, x))
    rng.shuffle(crops)
    return crops


def batches_of(images, crops, tile, batch_size, mean, std):
    import numpy as np

    for start in range(0, len(crops), batch_size):
        chosen = crops[start : start + batch_size]
        th = min(tile, min(images[i][0].shape[1] for i, _, _ in chosen))
        tw = min(tile, min(images[i][0].shape[2] for i, _, _ in chosen))
        x = np.empty((len(chosen), mean.shape[0], th, tw), dtype=np.float32)
        y = np.empty((len(chosen), th, tw), dtype=np.int64)
        for k, (i, oy, ox) in enumerate(chosen):
            planes, labels = images[i]
            x[k] = planes[:, oy : oy + th, ox : ox + tw]
            y[k] = labels[oy : oy + th, ox : ox + tw]
        x = (x * PIXEL_SCALE - mean[None, :, None, None]) / std[None, :, None, None]
        yield x, y


def confusion(pred, target, num_classes):
    import numpy as np

    keep = target != IGNORE_LABEL
    return np.bincount(target[keep] * num_classes + pred[keep], minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores(matrix, classes):
    import numpy as np

    total = matrix.sum()
    accuracy = float(np.trace(matrix) / total) if total else None
    per_class = {}
    ious = []
    for c, name in enumerate(classes):
        union = matrix[c, :].sum() + matrix[:, c].sum() - matrix[c, c]
        if matrix[c, :].sum() == 0:
            per_class[name] = None  # no support: left out of the mean, as the evaluator does
            continue
        iou = float(matrix[c, c] / union)
        per_class[name] = iou
        ious.append(iou)
    return accuracy, (sum(ious) / len(ious) if ious else None), per_class


def evaluate(model, images, device, mean, std, num_classes, amp):
    import numpy as np
    import torch
    import torch.nn.functional as F

    model.eval()
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    loss_sum, pixels = 0.0, 0
    with torch.no_grad():
        for planes, labels in images:
            x = torch.from_numpy(((planes.astype(np.float32) * PIXEL_SCALE - mean[:, None, None]) / std[:, None, None])[None]).to(device)
            y = torch.from_numpy(labels.astype(np.int64)[None]).to(device)
            with autocast(device, amp, torch):
                logits = model(x)
            valid = int((y != IGNORE_LABEL).sum())
            if valid:
                loss_sum += float(F.cross_entropy(logits.float(), y, ignore_index=IGNORE_LABEL, reduction="sum"))
                pixels += valid
            matrix += confusion(logits.argmax(1)[0].cpu().numpy().astype(np.int64), labels.astype(np.int64), num_classes)
    return (loss_sum / pixels if pixels else None), matrix


def autocast(device, amp, torch):
    """float16 autocast on CUDA when mixed precision is on; nothing otherwise (CPU autocast is bfloat16 only)."""
    import contextlib

    return torch.autocast(device_type="cuda", dtype=torch.float16) if amp else contextlib.nullcontext()


def write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    write_atomically(path, write)


def checkpoint_files(folder):
    if not os.path.isdir(folder):
        return []
    names = [n for n in os.listdir(folder) if n.startswith("checkpoint-epoch-") and n.endswith(".pt")]
    return sorted(os.path.join(folder, n) for n in names)


def write_atomically(path, write):
    """Write then rename: a kill mid-write leaves the previous file, never half of one."""
    tmp = f"{path}.{os.getpid()}.tmp"
    write(tmp)
    os.replace(tmp, path)


def latest_checkpoint(folder, fingerprint, torch):
    for path in reversed(checkpoint_files(folder)):
        try:
            state = torch.load(path, map_location="cpu")
        except Exception as err:  # a truncated or foreign file: try the one before it
            say(f"ignoring an unreadable checkpoint {os.path.basename(path)} ({err})")
            continue
        if state.get("fingerprint") == fingerprint:
            return state
        say("ignoring a checkpoint from different inputs (params or dataset changed); starting afresh")
        return None
    return None


def export_onnx(model, in_channels, path, torch):
    model.eval()
    cpu_model = model.to("cpu").float()
    dummy = torch.zeros(1, in_channels, 64, 64)

    def write(tmp):
        import warnings

        with warnings.catch_warnings():
            # torch's exporter warns about shape inference of constants it folds; nothing to act on.
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(
                cpu_model,
                dummy,
                tmp,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "N", 2: "H", 3: "W"}, OUTPUT_NAME: {0: "N", 2: "H", 3: "W"}},
                opset_version=17,
                do_constant_folding=True,
            )

    write_atomically(path, write)


def model_card(classes, channels, mean, std, params, version_id, line, created_at):
    """model-card/v1 as shared/core/models/model-card.ts defines it (the evaluator's contract)."""
    return {
        "schema": "model-card/v1",
        "name": TRAINER_NAME,
        "task": "segmentation",
        "classes": classes,
        "input": {
            "name": INPUT_NAME,
            "layout": "NCHW",
            "height": None,
            "width": None,
            "channels": channels,
            "dtype": "float32",
            "normalisation": {"scale": PIXEL_SCALE, "mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        },
        "output": {"name": OUTPUT_NAME, "format": "logits"},
        "ignoreIndex": IGNORE_LABEL,
        "trainer": {"name": TRAINER_NAME, "version": TRAINER_VERSION, "params": params},
        "dataset": {"versionId": version_id, "line": line},
        "createdAt": created_at,
    }


def run(env):
    for key in ("DATA_DIR", "OUTPUT_DIR", "CHECKPOINT_DIR"):
        if not env.get(key):
            raise BadInput(f"{key} is not set")
    data_dir, output_dir, checkpoint_dir = env["DATA_DIR"], env["OUTPUT_DIR"], env["CHECKPOINT_DIR"]
    params, ignored = read_params(env.get("PARAMS", "{}"))
    if ignored:
        say(f"ignoring PARAMS the U-Net trainer does not use: {', '.join(ignored)}")
    if env.get("BASE_MODEL_PATH"):
        say("not warm-starting: the U-Net trainer starts from its seed (BASE_MODEL_PATH is ignored)")

    try:
        import numpy as np
        import torch
        import torch.nn.functional as F
    except ImportError as err:
        raise BadInput(f"the U-Net trainer needs PyTorch, NumPy and Pillow in the trainer image: {err}")

    manifest, version_id = read_manifest(data_dir)
    if manifest.get("task") != "segmentation":
        raise BadInput(f"the U-Net trainer does segmentation; this dataset is {manifest.get('task')}")
    classes = manifest["classes"]
    items = [i for i in manifest["items"] if i.get("split") == "train"]
    if not items:
        raise BadInput("the dataset has no items in the train split")
    channels = channels_for(items)
    images = [load_item(data_dir, item, channels, len(classes)) for item in items]

    # Whole images held out for validation (seeded); with fewer than two images, validate on training data.
    order = list(range(len(images)))
    random.Random(derive_seed(params["seed"], "holdout")).shuffle(order)
    held = max(1, round(len(images) * params["holdoutFraction"])) if len(images) >= 2 and params["holdoutFraction"] > 0 else 0
    holdout = [images[i] for i in sorted(order[:held])]
    train = [images[i] for i in sorted(order[held:])]
    validation = holdout or train

    # Normalisation from the training pixels (nodata included: the evaluator feeds every pixel).
    stacked = np.concatenate([p.reshape(p.shape[0], -1) for p, _ in train], axis=1).astype(np.float64) * PIXEL_SCALE
    mean = stacked.mean(axis=1).astype(np.float32)
    std = np.maximum(stacked.std(axis=1), 1e-3).astype(np.float32)

    if params["threads"]:
        torch.set_num_threads(params["threads"])
    want = params["device"]
    if want == "cuda" and not torch.cuda.is_available():
        raise BadInput('PARAMS.device is "cuda" but PyTorch sees no CUDA device')
    device = torch.device("cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu")
    amp = bool(params["amp"]) and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    fingerprint = hashlib.sha256(
        canonical_json({"trainer": TRAINER_NAME, "version": TRAINER_VERSION, "params": params, "classes": classes, "channels": channels, "dataset": version_id}).encode()
    ).hexdigest()
    torch.manual_seed(derive_seed(params["seed"], "init"))
    model = build_model(len(channels), len(classes), params["width"]).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=params["learningRate"], weight_decay=params["weightDecay"])
    scaler = torch.cuda.amp.GradScaler(enabled=amp)
    epochs = params["epochs"]
    history = []
    start_epoch = 0
    state = latest_checkpoint(checkpoint_dir, fingerprint, torch)
    if state is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scaler.load_state_dict(state["scaler"])
        history = state["history"]
        start_epoch = state["epoch"]
        say(f"resuming from checkpoint after epoch {start_epoch}/{epochs}")
    say(
        f"dataset {manifest.get('line')} v{manifest.get('seq')}: {len(train)} training images, {len(holdout)} held out, "
        f"classes {','.join(classes)}, bands {','.join(channels)}; device {device.type}{' (mixed precision)' if amp else ''}"
    )

    def learning_rate(epoch):
        # Cosine decay over the run: a function of the epoch, so a resumed run follows the same schedule.
        return params["learningRate"] * 0.5 * (1 + math.cos(math.pi * epoch / epochs))

    os.makedirs(checkpoint_dir, exist_ok=True)
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(epoch)
        rng = random.Random(derive_seed(params["seed"], f"epoch:{epoch}"))
        torch.manual_seed(derive_seed(params["seed"], f"torch:{epoch}"))
        crops = random_crops(train, params["tileSize"], params["tilesPerImage"], rng)
        model.train()
        loss_sum, steps, pixels = 0.0, 0, 0
        step_seconds = 0.0
        for x, y in batches_of(train, crops, params["tileSize"], params["batchSize"], mean, std):
            step_started = time.perf_counter()
            xt = torch.from_numpy(x).to(device, non_blocking=True)
            yt = torch.from_numpy(y).to(device, non_blocking=True)
            if not bool((yt != IGNORE_LABEL).any()):
                continue  # a batch of nodata only: nothing to learn, and its loss would be NaN
            optimiser.zero_grad(set_to_none=True)
            with autocast(device, amp, torch):
                logits = model(xt)
            loss = F.cross_entropy(logits.float(), yt, ignore_index=IGNORE_LABEL)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            loss_sum += float(loss)
            steps += 1
            pixels += x.shape[0] * x.shape[2] * x.shape[3]
            if device.type == "cuda":
                torch.cuda.synchronize()
            step_seconds += time.perf_counter() - step_started
        val_loss, matrix = evaluate(model, validation, device, mean, std, len(classes), amp)
        accuracy, miou, per_class = scores(matrix, classes)
        seconds = time.perf_counter() - started
        record = {
            "epoch": epoch + 1,
            "loss": loss_sum / steps if steps else None,
            "valLoss": val_loss,
            "pixelAccuracy": accuracy,
            "mIoU": miou,
            "perClassIoU": per_class,
            "learningRate": learning_rate(epoch),
            "seconds": seconds,
            "stepSeconds": step_seconds / steps if steps else None,
            "trainMpixelPerSecond": pixels / step_seconds / 1e6 if step_seconds else None,
            "device": device.type,
        }
        history.append(record)
        checkpoint = {
            "fingerprint": fingerprint,
            "epoch": epoch + 1,
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "scaler": scaler.state_dict(),
            "history": history,
        }
        path = os.path.join(checkpoint_dir, f"checkpoint-epoch-{epoch + 1:04d}.pt")
        write_atomically(path, lambda tmp: torch.save(checkpoint, tmp))
        for old in checkpoint_files(checkpoint_dir)[:-CHECKPOINTS_KEPT]:
            os.remove(old)
        # Per-epoch metrics next to the checkpoints: uploaded with them while the run trains.
        write_text(os.path.join(checkpoint_dir, "metrics.jsonl"), "".join(json.dumps(r) + "\n" for r in history))
        fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
        say(
            f"epoch {epoch + 1}/{epochs} loss {fmt(record['loss'])} val_loss {fmt(val_loss)} mIoU {fmt(miou)} "
            f"lr {record['learningRate']:.2e} {seconds:.2f}s"
        )

    os.makedirs(output_dir, exist_ok=True)
    export_onnx(model, len(channels), os.path.join(output_dir, "model.onnx"), torch)
    created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    card = model_card(classes, channels, mean, std, params, version_id, manifest.get("line"), created_at)
    write_text(os.path.join(output_dir, "model.json"), json.dumps(card, indent=2) + "\n")
    last = history[-1] if history else {}
    metrics = {
        "source": "trainer-self-reported",
        "note": "Measured by the trainer on whole training-split images it held out (or on its training images when it had fewer than two); not an evaluation result.",
        "trainer": TRAINER_NAME,
        "pixelAccuracy": last.get("pixelAccuracy"),
        "mIoU": last.get("mIoU"),
        "perClassIoU": last.get("perClassIoU"),
        "finalLoss": last.get("loss"),
        "epochs": len(history),
        "images": len(images),
        "heldOutImages": len(holdout),
        "seed": params["seed"],
        "device": device.type,
        "mixedPrecision": amp,
        "history": history,
    }
    write_text(os.path.join(output_dir, "metrics.json"), json.dumps(metrics, indent=2) + "\n")
    say(f"wrote {output_dir}/model.onnx, model.json, metrics.json")


def main():
    try:
        run(os.environ)
    except BadInput as err:
        print(f"unet trainer: {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
