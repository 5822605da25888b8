"""What the app costs on disk: per mural in the study, and per 100 blind pairs shown (before and after cleaning).

    python scripts/storage_figures.py [--pairs 100] [--murals 3] [--data ../shared/data] [--out outputs/storage]

Per mural: the stored photo, its mask, the magenta damage view and one candidate per rated system (PNG, under the
files folder), its database rows, and its share of a study backup (the same files again unless hard-linked) -
measured on MuralDH crops (256 x 256) and, when ``--data`` holds ``hires-murals``, on a 1.3-1.9 MP wall photo with a
real damage mask.  Without the shared data, synthetic murals of the same sizes are used.

Per 100 pairs shown: the app served in this process (``BackgroundServer``) with Gradio's cache in a folder of its own
and ``MURALXGAN_CACHE_MINUTES`` set short; signed-in raters (as many as the pairs need: each is shown a restoration
once) ask for a pair and vote in turn, ``--pairs`` times in all;
the database, the files folder, the app's served copies and scratch folders and Gradio's cache are measured right
after (what a burst costs until the cache time passes) and once the cleaning has run (what stays: database rows).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE_SECONDS = 4  # the cache time of the measured server (MURALXGAN_CACHE_MINUTES), short enough to watch it work


def folder_size(folder: Path) -> tuple[int, int]:
    """(bytes, files) under ``folder`` (hard links counted once)."""
    seen, total, count = set(), 0, 0
    for path in Path(folder).rglob("*") if Path(folder).exists() else []:
        if path.is_file():
            stat = path.stat()
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
            count += 1
    return total, count


def db_size(db_path: Path) -> int:
    return sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*") if p.is_file())


def _murals(data: Path | None, count: int, hires: bool):
    """(name, image, mask) triples: MuralDH crops with their own masks, or a wall photo with a real damage mask."""
    import numpy as np

    from mural_inpaint.data.damage import synthesize_damage
    from mural_inpaint.imaging import list_images, load_image, load_mask

    rng = np.random.default_rng(0)
    if hires and data and (data / "hires-murals").is_dir():
        import cv2

        walls = list(list_images(data / "hires-murals").values())[:count]
        banks = list(list_images(data / "real-damage-masks").values()) if (data / "real-damage-masks").is_dir() else []
        for index, path in enumerate(walls):
            image = load_image(path)
            if banks:
                bank = load_mask(banks[index % len(banks)]).astype(np.uint8)
                mask = cv2.resize(bank, image.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
            else:
                mask = synthesize_damage(image.shape[0], image.shape[1], "mixed", rng)
            yield path.stem, image, mask
        return
    if not hires and data and (data / "muraldh-sample" / "gt").is_dir():
        images = list_images(data / "muraldh-sample" / "gt")
        masks = list_images(data / "muraldh-sample" / "mask")
        for stem in list(images)[:count]:
            yield stem, load_image(images[stem]), load_mask(masks[stem])
        return
    side = (1300, 1400) if hires else (256, 256)
    from tests.helpers import synthetic_mural  # (no shared data: synthetic murals of the same size)

    for index in range(count):
        yield f"synthetic{index}", synthetic_mural(*side, seed=index), synthesize_damage(*side, "mixed", rng)


def per_mural(root: Path, data: Path | None, count: int, hires: bool, systems: tuple[str, ...]) -> dict:
    """Disk cost of adding murals to the study with a candidate from every system, and of backing them up."""
    from mural_inpaint.app.backup import snapshot_study
    from mural_inpaint.app.catalogue import add_mural, damage_view, fill_candidates
    from mural_inpaint.app.context import pipeline_for, shared_captioner
    from mural_inpaint.review.store import Store

    name = "hires" if hires else "crops"
    db_path, files = root / name / "study.db", root / name / "study-files"
    store = Store(db_path)
    store.snapshot(root / name / "empty.db")
    empty_db = (root / name / "empty.db").stat().st_size
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before_db = db_size(db_path)
    pixels, added = 0, 0
    for stem, image, mask in _murals(data, count, hires):
        mural_id, _ = add_mural(store, files, image, mask, stem, "storage figures", shared_captioner())
        fill_candidates(store, files, mural_id, systems, pipeline_for)
        damage_view(store.mural(mural_id))
        pixels += image.shape[0] * image.shape[1]
        added += 1
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    file_bytes, file_count = folder_size(files)
    summary = snapshot_study(store, files, root / name / "backup-copy")
    copied = root / name / "backup-copy" / "files"
    backup_bytes = sum(p.stat().st_size for p in copied.rglob("*") if p.is_file())
    return {"murals": added, "megapixels_each": round(pixels / added / 1e6, 3), "systems": list(systems),
            "files_per_mural": file_count / added, "file_kb_per_mural": round(file_bytes / added / 1000, 1),
            "db_kb_per_mural": round((db_size(db_path) - before_db) / added / 1000, 2),
            "empty_db_kb": round(empty_db / 1000, 1),
            "backup_kb_per_mural": round(backup_bytes / added / 1000, 1), "backup_files": summary["files"]}


def per_pairs(root: Path, data: Path | None, pairs: int, murals: int, systems: tuple[str, ...]) -> dict:
    """Disk growth while ``pairs`` blind pairs are shown and voted on, and what is left after cleaning."""
    import httpx
    from gradio_client import Client

    from mural_inpaint.app import served
    from mural_inpaint.app.catalogue import add_mural
    from mural_inpaint.app.context import create_context, shared_captioner
    from mural_inpaint.app.server import BackgroundServer
    from mural_inpaint.app.settings import AppSettings

    # a rater is shown each restoration once (murals x systems // 2 pairs each): enough raters for every pair shown,
    # and one more for the warm-up
    each = murals * (len(systems) // 2)
    logins = {f"rater{i}": f"pw-{i}" for i in range(max(2, -(-pairs // each)) + 1)}
    settings = AppSettings(db_path=root / "pairs" / "study.db", logins=logins, blind_systems=systems)
    context = create_context(settings, start_worker=True)
    for stem, image, mask in _murals(data, murals, hires=False):
        add_mural(context.store, settings.files, image, mask, stem, "storage figures", shared_captioner())
    context.worker.wake()
    deadline = time.monotonic() + 600
    while len(list(context.store.db.query("SELECT id FROM candidates"))) < murals * len(systems):
        if time.monotonic() > deadline:
            raise RuntimeError("candidates were not computed in time")
        time.sleep(0.5)
    server = BackgroundServer(context)
    url = server.start()
    gradio_cache = Path(server.demo.GRADIO_CACHE)

    def measure() -> dict:
        context.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cache_bytes, cache_files = folder_size(gradio_cache)
        files_bytes, files_count = folder_size(settings.files)
        ours = served.disk_usage()
        return {"db": db_size(settings.db_path), "files": files_bytes, "files_count": files_count,
                "served": ours["bytes"], "served_files": ours["files"], "gradio_cache": cache_bytes,
                "gradio_cache_files": cache_files}

    clients = []
    for name, password in logins.items():
        cookie = httpx.post(url + "auth/login", data={"username": name, "password": password})
        clients.append(Client(url, verbose=False, download_files=False,
                              headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.cookies.items())}))
    warm_up = clients.pop()
    warm_up.predict(api_name="/blind_next")  # warm up (a first damage view per mural is made and kept)
    warm_up.predict("-", "-", "", api_name="/blind_vote_tie")
    time.sleep(CACHE_SECONDS + 2)
    served.prune_served()
    before = measure()
    start = time.perf_counter()
    for index in range(pairs):
        client = clients[index % len(clients)]
        shown = client.predict(api_name="/blind_next")
        if not shown[0]:
            raise RuntimeError(f"no pair shown: {shown[3]}")
        client.predict("-", "-", "", api_name="/blind_vote_tie")
    seconds = time.perf_counter() - start
    burst = measure()
    time.sleep(CACHE_SECONDS * 2 + 2)  # Gradio's delete_cache runs every second here
    served._last_prune = 0.0
    served.prune_served()
    cleaned = measure()
    server.stop()
    scale = 100 / pairs

    def growth(after: dict) -> dict:
        return {key: round((after[key] - before[key]) * scale / (1 if key.endswith(("_files", "_count")) else 1000), 1)
                for key in before}

    return {"pairs": pairs, "seconds": round(seconds, 1), "cache_seconds": CACHE_SECONDS,
            "per_100_pairs_right_after": growth(burst), "per_100_pairs_after_cleaning": growth(cleaned),
            "units": "kB per 100 pairs; keys ending in _files or _count: files per 100 pairs"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--murals", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--skip-hires", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("outputs/storage"))
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="muralxgan-storage-"))
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio-cache")  # before gradio is imported
    os.environ["MURALXGAN_CACHE_MINUTES"] = str(CACHE_SECONDS / 60)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    sys.path.insert(0, str(ROOT))
    from mural_inpaint.app.settings import CLASSICAL_SYSTEMS
    from mural_inpaint.pipeline import default_restorer_name

    data = args.data if args.data.is_dir() else None
    rated = ((("muralxgan",) if default_restorer_name() == "muralxgan" else ()) + CLASSICAL_SYSTEMS)
    report = {"data": str(data) if data else "synthetic",
              "per_mural_crops": per_mural(root, data, args.murals, False, rated)}
    if not args.skip_hires:
        report["per_mural_wall_photo"] = per_mural(root, data, 2, True, rated)
    report["pairs"] = per_pairs(root, data, args.pairs, args.murals, ("telea", "navier-stokes", "biharmonic"))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "storage.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
