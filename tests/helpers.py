"""Helpers shared by the tests: paths, the optional real data, tiny synthetic murals and a tiny GAN restorer.

Test modules import from here (never from each other or from conftest); nothing is built at import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

requires_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "muraldh-sample").is_dir(),
    reason=f"real mural data not found at {SHARED_DATA} (it lives beside the project, see ../shared/data/README.md)",
)


def synthetic_mural(height: int = 64, width: int = 80, seed: int = 0) -> np.ndarray:
    """uint8 [H, W, 3]: smooth colour fields plus dark outlines, like a simplified mural."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([
        120 + 80 * np.sin(xx / 9.0 + seed),
        110 + 60 * np.cos(yy / 7.0),
        90 + 50 * np.sin((xx + yy) / 11.0),
    ], axis=-1)
    image[(xx + 2 * yy) % 23 == 0] = 30
    return np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)


def tiny_gan(working_size: int = 32):
    """A MuralXGANRestorer with a random 8-channel generator (random, not zero, heads: it writes its own pixels)."""
    import torch

    from mural_inpaint.models import ColourConfig, GeneratorConfig, MuralXGAN, MuralXGANConfig
    from mural_inpaint.restorers.gan import MuralXGANRestorer

    torch.manual_seed(0)
    config = MuralXGANConfig(generator=GeneratorConfig(channels=8, dilations=(2,)),
                             colour=ColourConfig(channels=4, dilations=(1,)), working_size=working_size)
    model = MuralXGAN(config)
    with torch.no_grad():
        model.generator.head[-1].weight.normal_(0, 0.1)
        model.colour.head.weight.normal_(0, 0.1)
    return MuralXGANRestorer(model, "test", None)


def write_pairs(folder: Path, stems: list[str], image_dir: str = "gt", mask_dir: str = "mask",
                size: int = 48) -> Path:
    """A paired collection under ``folder``: ``image_dir/<stem>.png`` synthetic murals and ``mask_dir/<stem>.png``
    damage masks (a 10-row box, shifted one pixel right for each stem)."""
    from mural_inpaint.imaging import save_png

    for index, stem in enumerate(stems):
        save_png(synthetic_mural(size, size, seed=index), folder / image_dir / f"{stem}.png")
        mask = np.zeros((size, size), bool)
        mask[10:20, 5 + index : 25 + index] = True
        save_png(mask, folder / mask_dir / f"{stem}.png")
    return folder


def tiny_run_config(tmp_path: Path, steps: int = 4) -> Path:
    """A training config (YAML under ``tmp_path``) for a tiny CPU run of ``steps`` steps on six synthetic pairs
    (``m5`` held out), writing to ``tmp_path/run``."""
    import yaml

    data = write_pairs(tmp_path / "data", [f"m{i}" for i in range(6)])
    (tmp_path / "holdout.txt").write_text("m5\n")
    config = {
        "output_dir": str(tmp_path / "run"), "steps": steps, "batch_size": 2, "log_every": 2, "validate_every": 2,
        "save_every": 2, "warmup_steps": 1, "threads": 1,
        "model": {"working_size": 48, "generator": {"channels": 8, "dilations": [2]},
                  "colour": {"channels": 4, "dilations": [1]}},
        "discriminator": {"channels": 8, "layers": 2},
        "data": {"sources": [str(data)], "validation": str(data), "holdout": str(tmp_path / "holdout.txt"),
                 "crop_size": 32, "workers": 0},
        "loss": {"adversarial_start": 2, "perceptual_backbone": "alexnet", "perceptual_layers": 2, "mse_hole": 1.0},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def back_to_schema_1() -> str:
    """SQL turning a current study database into what a schema-1 file held (no skips, sessions or pairs.skipped_at;
    the murals' table called ``items`` and its references ``item_id``), to test the migrations."""
    renamed = "".join(f"ALTER TABLE {table} RENAME COLUMN mural_id TO item_id; "
                      for table in ("captions", "caption_reviews", "candidates", "pairs", "votes"))
    return ("DROP TABLE skips; DROP TABLE sessions; ALTER TABLE pairs DROP COLUMN skipped_at; "
            f"ALTER TABLE murals RENAME TO items; {renamed}UPDATE meta SET value = '1';")
