import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mural_inpaint.cli import main
from mural_inpaint.imaging import load_image, save_png
from tests.helpers import ROOT, synthetic_mural, tiny_gan


@pytest.fixture
def files(tmp_path, mural, hole):
    return save_png(mural, tmp_path / "wall.png"), save_png(hole, tmp_path / "wall-mask.png")


def test_restore_single_file(files, tmp_path, mural, hole, capsys):
    image, mask = files
    out = tmp_path / "out" / "restored.png"
    assert main(["restore", str(image), "--mask", str(mask), "--output", str(out), "--model", "telea",
                 "--captioner", "describer"]) == 0
    restored = load_image(out)
    assert np.array_equal(restored[~hole], mural[~hole])
    provenance = json.loads(out.with_suffix(".json").read_text())
    assert provenance["restorer"] == "telea" and provenance["input"] == str(image)
    printed = capsys.readouterr()
    assert "wrote" in printed.out and "80x64" in printed.out and "restorer: telea" in printed.out


def test_restore_batch_matches_by_stem(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    for index in range(3):
        image = synthetic_mural(40, 48, seed=index)
        mask = np.zeros((40, 48), bool)
        mask[5 + index : 15 + index, 10:20] = True
        save_png(image, tmp_path / "in" / f"m{index}.png")
        save_png(mask, tmp_path / "masks" / f"m{index}.png")
    code = main(["restore", str(tmp_path / "in"), "--mask", str(tmp_path / "masks"), "--output",
                 str(tmp_path / "out"), "--model", "navier-stokes", "--captioner", "describer"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["m0.png", "m1.png", "m2.png"]
    assert "wrote 3 restorations" in capsys.readouterr().out


def test_batch_reports_images_without_masks(tmp_path, capsys):
    save_png(synthetic_mural(), tmp_path / "in" / "a.png")
    save_png(synthetic_mural(), tmp_path / "in" / "b.png")
    save_png(np.zeros((64, 80), bool), tmp_path / "masks" / "a.png")
    code = main(["restore", str(tmp_path / "in"), "--mask", str(tmp_path / "masks"), "--output", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'masks'}: no mask for b (masks are matched to images by file name stem)."


@pytest.mark.parametrize(
    ("make_mask", "expected"),
    [
        (lambda: np.zeros((10, 10), bool), "the mask is 10x10 pixels but the image is 80x64"),
        (lambda: np.ones((64, 80), bool), "The mask covers the whole image"),
    ],
)
def test_bad_masks_exit_2_with_one_line(files, tmp_path, capsys, make_mask, expected):
    image, _ = files
    mask = save_png(make_mask(), tmp_path / "bad.png")
    assert main(["restore", str(image), "--mask", str(mask), "--output", str(tmp_path / "x.png"),
                 "--model", "telea"]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_unknown_model_lists_the_available_ones(files, tmp_path, capsys):
    image, mask = files
    assert main(["restore", str(image), "--mask", str(mask), "--output", str(tmp_path / "x.png"),
                 "--model", "magic"]) == 2
    expected = ("Unknown restorer 'magic'. Available: biharmonic, fsr, muralxgan, muralxgan-texture, navier-stokes, "
                "telea.")
    assert expected in capsys.readouterr().err


def test_checkpoint_option_selects_the_gan(files, tmp_path, capsys):
    tiny_gan(working_size=64).model.save_pretrained(tmp_path / "ckpt")
    image, mask = files
    out = tmp_path / "gan.png"
    assert main(["restore", str(image), "--mask", str(mask), "--output", str(out), "--checkpoint",
                 str(tmp_path / "ckpt"), "--captioner", "describer"]) == 0
    provenance = json.loads(out.with_suffix(".json").read_text())
    assert provenance["restorer"] == "muralxgan" and provenance["checkpoint"] == str(tmp_path / "ckpt")
    assert main(["restore", str(image), "--mask", str(mask), "--output", str(out), "--model", "telea",
                 "--checkpoint", str(tmp_path / "ckpt")]) == 2
    assert "--checkpoint and --texture are for the muralxgan restorer, not 'telea'" in capsys.readouterr().err


def test_describe_prints_the_description(files, capsys):
    image, mask = files
    assert main(["describe", str(image), "--mask", str(mask), "--captioner", "describer", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["captioner"] == "describer" and described["text"].startswith("Damage covers")
    assert described["damaged_percent"] == pytest.approx(100 * 14 * 20 / (64 * 80), abs=0.01)


def test_models_lists_restorers_and_the_default(capsys, monkeypatch):
    monkeypatch.delenv("MURALXGAN_CHECKPOINT", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("telea", "navier-stokes", "biharmonic", "muralxgan"):
        assert name in out
    assert "(default)" in out


def test_module_entry_point_exit_code_and_single_line(tmp_path):
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    done = subprocess.run([sys.executable, "-m", "mural_inpaint", "restore", str(not_an_image), "--mask",
                           str(not_an_image), "--output", str(tmp_path / "o.png"), "--model", "telea"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: notes.txt: not an image file that can be read (use PNG, JPEG, TIFF, WebP or BMP)."
    ]


def _checkpoint_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("muralxgan"))


def test_models_runs_from_another_folder_and_finds_the_packaged_checkpoint(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MURALXGAN_CHECKPOINT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "mural_inpaint", "models"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    shipped = ROOT / "mural_inpaint" / "checkpoints" / "muralxgan-default"
    assert _checkpoint_line(done.stdout).endswith(f"[checkpoint: {shipped}]")
    assert _checkpoint_line(done.stdout).startswith("muralxgan (default):")
    command = shutil.which("muralxgan")
    if command:  # the console script of an installed copy (pip install .): its own packaged checkpoint
        done = subprocess.run([command, "models"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert _checkpoint_line(done.stdout).endswith("muralxgan-default]")


def test_serve_runs_the_app_server_with_host_and_port(monkeypatch):
    import mural_inpaint.app.server

    calls = []
    monkeypatch.setattr(mural_inpaint.app.server, "serve", lambda **options: calls.append(options))
    assert main(["serve", "--host", "0.0.0.0", "--port", "7861"]) == 0
    assert main(["serve"]) == 0
    assert calls == [{"host": "0.0.0.0", "port": 7861}, {"host": None, "port": None}]


def test_output_format_follows_the_extension_and_the_input_is_never_overwritten(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from mural_inpaint.cli import main
    from mural_inpaint.imaging import load_image, save_png
    from tests.helpers import synthetic_mural

    image = synthetic_mural(48, 48)
    mask = np.zeros((48, 48), bool)
    mask[10:20, 10:20] = True
    save_png(image, tmp_path / "mural.png")
    save_png(mask, tmp_path / "mask.png")
    base = [str(tmp_path / "mural.png"), "--mask", str(tmp_path / "mask.png"), "--model", "telea"]
    for suffix, image_format in ((".tif", "TIFF"), (".webp", "WEBP"), (".png", "PNG")):
        assert main(["restore", *base, "--output", str(tmp_path / f"out{suffix}")]) == 0
        written = tmp_path / f"out{suffix}"
        assert Image.open(written).format == image_format
        restored = load_image(written)
        assert np.array_equal(restored[~mask], image[~mask])  # lossless: known pixels byte-identical
    capsys.readouterr()
    assert main(["restore", *base, "--output", str(tmp_path / "out.jpg")]) == 0
    assert Image.open(tmp_path / "out.jpg").format == "JPEG" and "lossy" in capsys.readouterr().err
    assert main(["restore", *base, "--output", str(tmp_path / "out.gif")]) == 2
    assert "cannot write .gif" in capsys.readouterr().err
    before = (tmp_path / "mural.png").read_bytes()
    assert main(["restore", *base, "--output", str(tmp_path / "mural.png")]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (tmp_path / "mural.png").read_bytes() == before
    assert main(["restore", *base, "--output", str(tmp_path / "mural.png"), "--overwrite"]) == 0


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path, capsys):
    import numpy as np

    from mural_inpaint.cli import main
    from mural_inpaint.imaging import save_png
    from tests.helpers import synthetic_mural

    save_png(synthetic_mural(32, 32), tmp_path / "mural.png")
    mask = np.zeros((32, 32), bool)
    mask[5:9, 5:9] = True
    save_png(mask, tmp_path / "mask.png")
    (tmp_path / "file").write_text("not a folder")
    code = main(["restore", str(tmp_path / "mural.png"), "--mask", str(tmp_path / "mask.png"), "--model", "telea",
                 "--output", str(tmp_path / "file" / "out.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: Cannot write") and len(err.splitlines()) == 1
