"""The app's restore flow: handler logic directly, then over HTTP through gradio_client."""

import json
from pathlib import Path

import numpy as np
import pytest

from mural_inpaint.app.restore_logic import image_and_mask, restore_to_files
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import load_image, load_mask, save_png
from tests.app_fixtures import login_cookie


def painted_editor(image: np.ndarray, box: tuple[slice, slice]) -> dict:
    layer = np.zeros((*image.shape[:2], 4), np.uint8)
    layer[box] = [255, 0, 255, 255]
    return {"background": image, "layers": [layer], "composite": image}


def test_painted_strokes_become_the_mask(mural):
    image, mask = image_and_mask(painted_editor(mural, (slice(5, 9), slice(10, 30))), None)
    assert np.array_equal(image, mural) and mask.sum() == 4 * 20 and mask[5:9, 10:30].all()


def test_editor_errors_are_readable(mural, tmp_path):
    with pytest.raises(InputError, match="Upload a mural photo first"):
        image_and_mask(None, None)
    with pytest.raises(InputError, match="No damage is marked"):
        image_and_mask({"background": mural, "layers": []}, None)
    wrong = save_png(np.ones((5, 5), bool), tmp_path / "m.png")
    with pytest.raises(InputError, match="the mask is 5x5 pixels but the image is 80x64"):
        image_and_mask({"background": mural, "layers": []}, str(wrong))


def test_restore_writes_png_mask_and_provenance(mural):
    result, _, files = restore_to_files(painted_editor(mural, (slice(20, 30), slice(20, 40))), None, "", "telea")
    restored = load_image(files["restored"])
    mask = load_mask(files["mask"])
    assert np.array_equal(restored[~mask], mural[~mask]) and mask.sum() == 200
    assert json.loads(files["provenance"].read_text())["restorer"] == "telea"
    assert result.caption.startswith("Damage covers")


def test_restore_over_http_joins_review_queue_and_blind_study(app_server, tmp_path, mural, hole):
    from gradio_client import Client, handle_file

    url, context = app_server
    client = Client(url, verbose=False, download_files=str(tmp_path), headers={"Cookie": login_cookie(url, "bob")})
    image_path = save_png(mural, tmp_path / "wall.png")
    mask_path = save_png(hole, tmp_path / "wall-mask.png")
    editor = {"background": handle_file(str(image_path)), "layers": [], "composite": None}
    caption, _, draft, _ = client.predict(editor, handle_file(str(mask_path)), "", api_name="/describe")
    assert caption.startswith("Damage covers") and draft == caption
    _, used_caption, downloads, status = client.predict(editor, handle_file(str(mask_path)), "cracks in the robe",
                                                        "telea", api_name="/restore")
    assert used_caption == "cracks in the robe" and "telea" in status
    assert sorted(Path(p).name for p in downloads) == ["wall-mask.png", "wall-provenance.json", "wall-restored.png"]
    restored = load_image(next(p for p in downloads if p.endswith("restored.png")))
    assert np.array_equal(restored[~hole], mural[~hole])
    stored = next(m for m in context.store.murals() if m["source"] == "restored in the app by bob")
    assert stored["name"] == "wall"  # the uploaded file's name, not "upload"
    assert np.array_equal(load_image(stored["image_path"]), mural)
    assert np.array_equal(load_mask(stored["mask_path"]), hole)
    assert context.store.latest_caption(stored["id"])["captioner"] == "describer"  # the machine draft is reviewed
    assert "telea" in context.store.candidate_systems(stored["id"])


def test_bad_input_over_http_is_a_readable_error(app_server, tmp_path, mural):
    from gradio_client import Client, handle_file

    client = Client(app_server[0], verbose=False, download_files=str(tmp_path))
    editor = {"background": handle_file(str(save_png(mural, tmp_path / "w.png"))), "layers": [], "composite": None}
    with pytest.raises(Exception, match="No damage is marked"):
        client.predict(editor, None, "", "telea", api_name="/restore")
