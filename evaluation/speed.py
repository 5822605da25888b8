"""Speed benchmark: every restorer on the same inputs, through the pipeline, with ratios against Telea.

    python -m evaluation.speed [--out DIR] [--repeats 5] [--sizes 256,512,1024] [--damage 5,15,30]
        [--groups crops,mural,canvas,real,sparse] [--restorers telea,...,muralxgan] [--no-app]

Inputs: crops of the high-resolution photos (``hires`` in train/configs/data.yaml's ``locations``, or synthetic
murals when the data is absent) with synthetic damage at each target fraction; the high-resolution murals with a
real-damage mask (``damage``, about 10 %); the same damage on canvases with 2x, 4x and 9x the pixels (cost should
follow the damage, not the canvas); and the mural upscaled 3x (~4k px); every high-resolution photo with a real
traced damage mask, and photos with the sparsest real masks (scattered damage), also timed as a whole ``muralxgan
restore`` process.
Reports median and p95 latency after one warm-up run, the app's start-up (median and p95 of as many fresh starts),
file decode / encode separately, peak memory (process max RSS), and the GAN's parameters and multiply-accumulates per
pixel.  No timed assertions: numbers to read.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mural_inpaint.data.damage import MaskBank, synthesize_damage
from mural_inpaint.pipeline import RestorationPipeline

ROOT = Path(__file__).resolve().parents[1]


def data_location(name: str) -> Path:
    """A data folder named in ``train/configs/data.yaml``'s ``locations`` (the one place the data paths live),
    resolved against the checkout as training resolves it."""
    import yaml

    locations = yaml.safe_load((ROOT / "train" / "configs" / "data.yaml").read_text())["locations"]
    return (ROOT / locations[name]).resolve()


HIRES_MURALS = data_location("hires")  # the high-resolution photos
DAMAGE_MASKS = data_location("damage")  # real traced damage masks
CANVAS_FACTORS = (2, 4, 9)  # canvas pixels relative to the mural


@dataclass
class SpeedCase:
    name: str
    group: str
    image: np.ndarray
    mask: np.ndarray


def damage_at(height: int, width: int, percent: float, rng, attempts: int = 10) -> np.ndarray:
    """Layer light damage (cracks, flakes) until ``percent`` is reached, keeping a draw within 25 % above it."""
    best, best_excess = None, np.inf
    for _ in range(attempts):
        mask = np.zeros((height, width), bool)
        while 100 * mask.mean() < percent:
            mask |= synthesize_damage(height, width, "light", rng)
        excess = 100 * mask.mean() / percent - 1
        if excess <= 0.25:
            return mask
        if excess < best_excess:
            best, best_excess = mask, excess
    return best


def build_cases(sizes: list[int], damages: list[float], seed: int = 0) -> list[SpeedCase]:
    rng = np.random.default_rng(seed)
    murals = sorted(HIRES_MURALS.glob("*.png"))
    if murals:
        from mural_inpaint.imaging import load_image

        mural = load_image(murals[0])
    else:  # no real data: a smooth synthetic picture of the same size
        yy, xx = np.mgrid[0:1300, 0:1400]
        mural = np.stack([128 + 90 * np.sin(xx / 37), 120 + 80 * np.cos(yy / 23), 110 + 60 * np.sin((xx + yy) / 51)],
                         axis=-1).astype(np.uint8)
    cases = []
    for size in sizes:
        source = mural if min(mural.shape[:2]) >= size else cv2.resize(mural, (size, size))
        crop = np.ascontiguousarray(source[:size, :size])
        for percent in damages:
            cases.append(SpeedCase(f"{size}px {percent:g}%", "crops", crop, damage_at(size, size, percent, rng)))
    bank_dir = DAMAGE_MASKS / "muralverse"
    if bank_dir.is_dir():
        bank = MaskBank.from_folder(bank_dir, min_fraction=0.08, max_fraction=0.12, min_zoom=0.8)
        mask = bank.sample(*mural.shape[:2], rng)
    else:
        mask = damage_at(*mural.shape[:2], 10, rng)
    height, width = mask.shape
    cases.append(SpeedCase(f"mural {width}x{height}", "mural", mural, mask))
    for factor in CANVAS_FACTORS:  # the same damage on ever larger canvases: cost should stay flat
        side = factor ** 0.5
        size = (round(side * width), round(side * height))
        big = cv2.resize(mural, size, interpolation=cv2.INTER_CUBIC)
        same_damage = np.zeros(big.shape[:2], bool)
        same_damage[:height, :width] = mask
        cases.append(SpeedCase(f"{factor}x canvas, same damage {size[0]}x{size[1]}", "canvas", big, same_damage))
    huge = cv2.resize(mural, (3 * width, 3 * height), interpolation=cv2.INTER_CUBIC)
    scaled = cv2.resize(mask.astype(np.uint8), (3 * width, 3 * height), interpolation=cv2.INTER_NEAREST) > 0
    cases.append(SpeedCase(f"upscaled 3x {3 * width}x{3 * height}", "mural", huge, scaled))
    return cases


def real_murals() -> list[SpeedCase]:
    """Each high-resolution photo with a real traced damage mask (the n-th muralverse mask on the n-th photo,
    stretched to its size): the kind of work the CLI meets.  Empty without the shared data."""
    from mural_inpaint.imaging import load_image, load_mask

    photos = sorted(HIRES_MURALS.glob("*.png"))
    masks = sorted((DAMAGE_MASKS / "muralverse").glob("*.png"))
    cases = []
    for photo, mask_file in zip(photos, masks):
        image = load_image(photo)
        height, width = image.shape[:2]
        mask = cv2.resize(load_mask(mask_file).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        cases.append(SpeedCase(f"{photo.stem} {width}x{height}", "real", image, mask))
    return cases


#: real traced masks this sparse (per cent damaged, at the mask's own size) are the "scattered damage" cases
SPARSE_PERCENT = (0.3, 1.5)


def sparse_murals() -> list[SpeedCase]:
    """The high-resolution photos with the sparsest real traced masks (MaskCLP masks 0.3-1.5 % damaged, in name
    order, the n-th on the n-th photo, stretched to its size): scattered damage, where the cost should follow the
    damaged pixels.  Empty without the shared data."""
    from mural_inpaint.imaging import load_image, load_mask

    masks = [load_mask(path) for path in sorted((DAMAGE_MASKS / "maskclp").glob("*.png"))]
    masks = [mask for mask in masks if SPARSE_PERCENT[0] <= 100 * mask.mean() <= SPARSE_PERCENT[1]]
    cases = []
    for photo, mask in zip(sorted(HIRES_MURALS.glob("*.png")), masks):
        image = load_image(photo)
        height, width = image.shape[:2]
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        cases.append(SpeedCase(f"{photo.stem} scattered {width}x{height}", "sparse", image, mask))
    return cases


def cli_seconds(case: SpeedCase, repeats: int, folder: Path) -> dict:
    """Whole-process wall time of ``muralxgan restore`` on ``case`` (a fresh process each time: start-up, model
    loading, decoding, restoring, encoding the PNG)."""
    import subprocess
    import sys

    from mural_inpaint.imaging import save_png

    stem = case.name.split()[0]
    image, mask = save_png(case.image, folder / f"{stem}.png"), save_png(case.mask, folder / f"{stem}-mask.png")
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mural_inpaint", "restore", str(image), "--mask", str(mask),
                        "--output", str(folder / f"{stem}-restored.png"), "--overwrite"],
                       check=True, capture_output=True, cwd=Path(__file__).resolve().parents[1])
        seconds.append(time.perf_counter() - start)
    return {"cli_median_s": statistics.median(seconds), "cli_p95_s": float(np.percentile(seconds, 95))}


def time_case(pipeline: RestorationPipeline, case: SpeedCase, repeats: int) -> dict:
    pipeline.restore(case.image, case.mask, caption=None)  # warm-up
    totals, restores = [], []
    for seed in range(repeats):
        result = pipeline.restore(case.image, case.mask, caption=None, seed=seed)
        totals.append(result.provenance["timings"]["total_s"])
        restores.append(result.provenance["timings"].get("restore_s", 0.0))
    return {"median_s": statistics.median(totals), "p95_s": float(np.percentile(totals, 95)),
            "restore_median_s": statistics.median(restores)}


def codec_seconds(image: np.ndarray) -> dict:
    """PNG decode and encode time of ``image`` (reported apart from restoration)."""
    from PIL import Image

    start = time.perf_counter()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    encode = time.perf_counter() - start
    start = time.perf_counter()
    Image.open(io.BytesIO(buffer.getvalue())).load()
    return {"png_encode_s": encode, "png_decode_s": time.perf_counter() - start}


def gan_cost(model, size: int = 256) -> dict:
    """Parameters and multiply-accumulates per pixel of the generator + colour net at ``size`` x ``size``."""
    import torch

    macs = 0

    def count(module, inputs, output):
        nonlocal macs
        if isinstance(module, torch.nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            macs += output.numel() * per_output
        elif isinstance(module, torch.nn.Linear):
            macs += output.numel() * module.in_features

    layers = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    handles = [layer.register_forward_hook(count) for layer in layers]
    with torch.inference_mode():
        x = torch.rand(1, 3, size, size)
        model(x, torch.zeros(1, 1, size, size), torch.zeros(1, model.config.generator.text_dim), x)
    for handle in handles:
        handle.remove()
    return {"parameters": sum(p.numel() for p in model.parameters()), "macs_per_pixel": macs / (size * size)}


def app_startup(case: SpeedCase) -> dict:
    """Seconds from launching ``python app.py`` (fresh process, temporary database) to the page answering, and to
    the first restore of ``case`` with the default restorer finishing over the API (model loading included)."""
    import os
    import socket
    import subprocess
    import sys
    import tempfile

    import httpx
    from gradio_client import Client, handle_file

    from mural_inpaint.imaging import save_png

    folder = Path(tempfile.mkdtemp(prefix="muralxgan-startup-"))
    image, mask = save_png(case.image, folder / "mural.png"), save_png(case.mask, folder / "mask.png")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"MURALXGAN_DB": str(folder / "app.db"), "GRADIO_SERVER_PORT": str(port)}
    app_file = Path(__file__).resolve().parents[1] / "app.py"
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(app_file)], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
            if process.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError("the app did not start")
        page = time.perf_counter() - start
        client = Client(url, verbose=False, download_files=str(folder))
        editor = {"background": handle_file(str(image)), "layers": [], "composite": None}
        client.predict(editor, handle_file(str(mask)), "", "muralxgan", api_name="/restore")
        first_restore = time.perf_counter() - start
        client.close()  # before the app stops: an open event stream makes its shutdown print a cancelled task
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {"page_s": page, "first_restore_s": first_restore, "case": case.name}


def app_startups(case: SpeedCase, repeats: int) -> dict:
    """:func:`app_startup` ``repeats`` times: medians and p95 (one start varies by half a second here)."""
    runs = [app_startup(case) for _ in range(repeats)]
    summary: dict = {"case": case.name, "runs": runs}
    for key in ("page_s", "first_restore_s"):
        values = [run[key] for run in runs]
        summary[key], summary[key.replace("_s", "_p95_s")] = statistics.median(values), float(np.percentile(values,
                                                                                                            95))
    return summary


def run(restorers: list[str], cases: list[SpeedCase], repeats: int) -> dict:
    results: dict = {"cases": {}, "restorers": {}}
    for case in cases:
        results["cases"][case.name] = {"group": case.group, "size": list(case.image.shape[:2]),
                                       "damaged_percent": round(100 * float(case.mask.mean()), 2),
                                       "damaged_pixels": int(case.mask.sum()), **codec_seconds(case.image)}
    for name in restorers:
        pipeline = RestorationPipeline(name, captioner="describer")
        timings = {case.name: time_case(pipeline, case, repeats) for case in cases}
        entry = {"timings": timings, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 "provenance": pipeline.restorer.provenance()}
        if name == "muralxgan":
            entry["cost"] = gan_cost(pipeline.restorer.model)
        results["restorers"][name] = entry
    if "muralxgan" in restorers and any(case.group in ("real", "sparse") for case in cases):
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="muralxgan-speed-"))
        for case in cases:
            if case.group in ("real", "sparse"):
                results["restorers"]["muralxgan"]["timings"][case.name] |= cli_seconds(case, repeats, folder)
    if "telea" in results["restorers"]:
        telea = results["restorers"]["telea"]["timings"]
        for entry in results["restorers"].values():
            for case, timing in entry["timings"].items():
                timing["vs_telea"] = timing["median_s"] / max(telea[case]["median_s"], 1e-9)
    return results


def markdown(results: dict) -> str:
    names = list(results["restorers"])
    lines = ["| case | damaged | " + " | ".join(f"{n} median / p95 (s)" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for case, info in results["cases"].items():
        cells = []
        for name in names:
            timing = results["restorers"][name]["timings"][case]
            ratio = f", {timing['vs_telea']:.1f}x Telea" if "vs_telea" in timing and name != "telea" else ""
            cells.append(f"{timing['median_s']:.3f} / {timing['p95_s']:.3f}{ratio}")
        lines.append(f"| {case} | {info['damaged_percent']:.1f}% | " + " | ".join(cells) + " |")
    mural = next((name for name, info in results["cases"].items() if info["group"] == "mural"), None)
    canvases = [name for name, info in results["cases"].items() if info["group"] == "canvas"]
    if mural and canvases:
        lines.append("\nSame damage, larger canvas (time relative to the mural itself):\n")
        lines.append("| restorer | " + " | ".join(name.split(",")[0] for name in canvases) + " |")
        lines.append("|---|" + "---|" * len(canvases))
        for name in names:
            timings = results["restorers"][name]["timings"]
            base = max(timings[mural]["median_s"], 1e-9)
            lines.append(f"| {name} | " + " | ".join(f"{timings[c]['median_s'] / base:.2f}x" for c in canvases) + " |")
    titles = {"real": "photos with real traced damage", "sparse": "photos with scattered damage (the sparsest real "
              f"traced masks, {SPARSE_PERCENT[0]:g}-{SPARSE_PERCENT[1]:g} % at their own size)"}
    for group, title in titles.items():
        photos = [name for name, info in results["cases"].items() if info["group"] == group]
        if photos and "muralxgan" in results["restorers"]:
            lines += _photo_table(results, photos, title)
    if "app_startup" in results:
        startup = results["app_startup"]
        spread = (f" (median of {len(startup['runs'])} starts; p95 {startup['page_p95_s']:.1f} s and "
                  f"{startup['first_restore_p95_s']:.1f} s)" if "runs" in startup else "")
        lines.append(f"\nApp start (`python app.py`, fresh process) to page: {startup['page_s']:.1f} s; to the "
                     f"first restore of the {startup['case']} case, model loading included: "
                     f"{startup['first_restore_s']:.1f} s{spread}.")
    for name, entry in results["restorers"].items():
        if "cost" in entry:
            cost = entry["cost"]
            lines.append(f"\n{name}: {cost['parameters'] / 1e6:.2f} M parameters, "
                         f"{cost['macs_per_pixel'] / 1e3:.1f} k multiply-accumulates per pixel.")
    return "\n".join(lines)


def _photo_table(results: dict, photos: list[str], title: str) -> list[str]:
    timings = results["restorers"]["muralxgan"]["timings"]
    lines = [f"\nmuralxgan on {title}: in the process after start-up (describe, embed, restore, composite), and the "
             "whole `muralxgan restore` process (start-up, loading, decoding, encoding the PNG included):\n",
             "| photo | damaged | after start-up median / p95 (s) | whole process median / p95 (s) |",
             "|---|---|---|---|"]
    for name in photos:
        timing = timings[name]
        whole = f"{timing['cli_median_s']:.2f} / {timing['cli_p95_s']:.2f}" if "cli_median_s" in timing else "-"
        lines.append(f"| {name} | {results['cases'][name]['damaged_percent']:.1f}% | {timing['median_s']:.2f} / "
                     f"{timing['p95_s']:.2f} | {whole} |")
    lines.append(f"| median of the photos | | {statistics.median(timings[n]['median_s'] for n in photos):.2f} | "
                 + (f"{statistics.median(timings[n]['cli_median_s'] for n in photos):.2f} |"
                    if all("cli_median_s" in timings[n] for n in photos) else "- |"))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/speed"))
    parser.add_argument("--restorers", default="telea,navier-stokes,biharmonic,muralxgan")
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--damage", default="5,15,30")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-app", action="store_true", help="skip the app start-to-first-restore measurement")
    parser.add_argument("--groups", default="crops,mural,canvas,real,sparse",
                        help="which cases: crops (synthetic damage), mural + canvas (one photo, real mask, larger "
                             "canvases), real (every high-resolution photo with a real traced mask, also timed "
                             "through the CLI as a whole process), sparse (photos with the sparsest real masks, "
                             "also through the CLI)")
    args = parser.parse_args(argv)
    groups = set(args.groups.split(","))
    cases = build_cases([int(s) for s in args.sizes.split(",")], [float(d) for d in args.damage.split(",")],
                        args.seed) if groups - {"real", "sparse"} else []
    cases = [case for case in cases if case.group in groups] + (real_murals() if "real" in groups else [])
    cases += sparse_murals() if "sparse" in groups else []
    results = run(args.restorers.split(","), cases, args.repeats)
    if not args.no_app:
        case = next((c for c in cases if c.name == "512px 15%"), cases[0])
        results["app_startup"] = app_startups(case, args.repeats)
    results["environment"] = {"machine": platform.machine(), "processor": platform.processor(),
                              "python": platform.python_version(), "date": time.strftime("%Y-%m-%d"),
                              "repeats": args.repeats}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2, default=str))
    (args.out / "speed.md").write_text(markdown(results) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
