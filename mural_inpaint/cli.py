"""Command line: ``muralxgan restore|describe|models|serve`` (also ``python -m mural_inpaint ...``).

Exit codes: 0 success, 2 bad input or unavailable model (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mural_inpaint.errors import InputError, MuralXGANError
from mural_inpaint.restorers.base import GAN_RESTORERS


def _pairs(input_path: Path, mask_path: Path) -> list[tuple[Path, Path, str]]:
    """(image, mask, stem) pairs: one file each, or two folders matched by file stem."""
    from mural_inpaint.imaging import list_images

    if input_path.is_dir() != mask_path.is_dir():
        raise InputError("INPUT and --mask must both be files or both be folders.")
    if not input_path.is_dir():
        return [(input_path, mask_path, input_path.stem)]
    images, masks = list_images(input_path), list_images(mask_path)
    if not images:
        raise InputError(f"{input_path}: no images (PNG, JPEG, TIFF, WebP, BMP) in this folder.")
    missing = sorted(set(images) - set(masks))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(f"{mask_path}: no mask for {shown} (masks are matched to images by file name stem).")
    return [(images[stem], masks[stem], stem) for stem in images]


def _restore(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mural_inpaint.imaging import LOSSY_SUFFIXES, OUTPUT_FORMATS, save_image
    from mural_inpaint.pipeline import RestorationPipeline

    pairs = _pairs(Path(args.input), Path(args.mask))
    batch = Path(args.input).is_dir()
    output = Path(args.output)
    if batch and output.suffix:
        raise InputError(f"{output}: with folders as INPUT, --output must be a folder.")
    if not batch and output.suffix.lower() not in ("", *OUTPUT_FORMATS):
        raise InputError(f"{output}: cannot write {output.suffix} files; use {', '.join(OUTPUT_FORMATS)}.")
    targets = [output / f"{stem}.png" if batch else (output if output.suffix else output.with_suffix(".png"))
               for _, _, stem in pairs]
    for (image_path, mask_path, _), target in zip(pairs, targets):
        written = {target.resolve(), target.with_suffix(".json").resolve()}
        clobbered = {image_path.resolve(), mask_path.resolve()} & written
        if clobbered and not args.overwrite:
            raise InputError(f"{target} would overwrite the input {next(iter(clobbered))}; choose another --output "
                             "or add --overwrite.")
    if output.suffix.lower() in LOSSY_SUFFIXES:
        print(f"warning: {output.suffix} is lossy: the known pixels will not come back byte-identical; "
              "use .png, .tif or .webp to keep them", file=sys.stderr)
    options = {"checkpoint": args.checkpoint, "revision": args.revision} if args.checkpoint else {}
    if args.texture is not None:
        options["texture"] = args.texture
    model = args.model or ("muralxgan" if options else None)
    if options and model not in GAN_RESTORERS:
        raise InputError(f"--checkpoint and --texture are for the muralxgan restorer, not {model!r}.")
    if args.texture is not None and model != "muralxgan":
        raise InputError(f"--texture is for the muralxgan restorer; {model} always copies the grain of intact paint.")
    pipeline = RestorationPipeline(model, restorer_options=options, captioner=args.captioner)
    engine = pipeline.restorer.engine
    print(f"restorer: {pipeline.restorer.name}" + (f", run by {engine}" if engine else ""))
    for (image_path, mask_path, _), target in tqdm(list(zip(pairs, targets)), desc="restoring", unit="image",
                                                   disable=not batch):
        start = time.perf_counter()
        result = pipeline.restore(image_path, mask_path, caption=args.caption, seed=args.seed)
        save_image(result.image, target)
        provenance = result.provenance | {"input": str(image_path), "mask": str(mask_path)}
        try:
            target.with_suffix(".json").write_text(json.dumps(provenance, indent=2, default=str))
        except OSError as error:
            raise InputError(f"Cannot write {target.with_suffix('.json')}: {error.strerror or error}.") from None
        if not batch:
            height, width = result.image.shape[:2]
            print(f"wrote {target} ({width}x{height}, {result.provenance['damaged_percent']:.1f}% damaged, "
                  f"{time.perf_counter() - start:.2f} s)")
            if result.mask.any():
                print(f"caption: {result.caption}")
                for note in result.provenance.get("notes", []):  # a local user: server paths are theirs to see
                    print(f"note: {note}")
            else:
                print("no damage is marked in the mask: the image is returned unchanged")
    if batch:
        print(f"wrote {len(pairs)} restorations to {output}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from mural_inpaint.pipeline import describe

    result = describe(args.input, args.mask, args.captioner)
    if args.json:
        print(json.dumps({"text": result.text, "captioner": result.captioner, "notes": result.notes,
                          **result.description.to_dict()}, indent=2))
    else:
        print(result.text)
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


def _models(args: argparse.Namespace) -> int:
    from mural_inpaint.pipeline import default_restorer_name
    from mural_inpaint.restorers import RESTORERS
    from mural_inpaint.restorers.gan import default_checkpoint

    default = default_restorer_name()
    for entry in RESTORERS.entries():
        marker = " (default)" if entry.name == default else ""
        status = ""
        if entry.name in GAN_RESTORERS:
            checkpoint = default_checkpoint()[0]
            status = f" [checkpoint: {checkpoint}]" if checkpoint else " [unavailable: no checkpoint configured]"
        print(f"{entry.name}{marker}: {entry.summary}{status}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    # as app.py: nothing waits on the network (set before gradio is imported)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from mural_inpaint.app.server import serve

    serve(host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="muralxgan", description="Restore damaged mural photos.")
    commands = parser.add_subparsers(dest="command", required=True)
    restore = commands.add_parser("restore", help="restore damaged areas marked by a mask")
    restore.add_argument("input", help="mural photo, or a folder of photos")
    restore.add_argument("--mask", required=True, help="damage mask (white/1 = damage), or a folder matched by stem")
    restore.add_argument("--output", required=True,
                         help="output image (.png, .tif, .webp lossless; .jpg lossy, with a warning), or a folder "
                              "for batches (PNG)")
    restore.add_argument("--overwrite", action="store_true", help="allow --output to replace the input photo or mask")
    restore.add_argument("--model", default=None, help="restorer name (see `models`); default: the best available")
    restore.add_argument("--checkpoint", default=None, help="MuralXGAN checkpoint folder or Hub repo id")
    restore.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) of --checkpoint")
    restore.add_argument("--texture", default=None, choices=("patch", "fsr", "none"),
                         help="texture stage for sizeable losses (default: the checkpoint's setting): patch copies "
                              "the grain of matching intact paint of the photo where the damage is deep; fsr adds "
                              "the brushwork of a frequency-selective fill there (slower)")
    restore.add_argument("--caption", default=None, help="damage description to use instead of the automatic one")
    restore.add_argument("--captioner", default="auto", help="auto, describer or blip2")
    restore.add_argument("--seed", type=int, default=0)
    restore.set_defaults(run=_restore)
    describe = commands.add_parser("describe", help="print the damage description")
    describe.add_argument("input")
    describe.add_argument("--mask", required=True)
    describe.add_argument("--captioner", default="auto")
    describe.add_argument("--json", action="store_true", help="structured output")
    describe.set_defaults(run=_describe)
    models = commands.add_parser("models", help="list restorers")
    models.set_defaults(run=_models)
    serve = commands.add_parser("serve", help="run the web app (the same app as `python app.py`)")
    serve.add_argument("--host", default=None, help="default: GRADIO_SERVER_NAME, else 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: GRADIO_SERVER_PORT, else 7860")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except MuralXGANError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
