"""Uploads (issue 14, points 5 and 7): the Restore tab reads the photo with the command line's loader (EXIF,
16-bit, greyscale, palette, alpha), refuses oversized files and pixel bombs before decoding, and answers bad uploads
with one line of its own, never a server path or Gradio's error."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import save_png
from mural_inpaint.pipeline import load_inputs
from scripts.upload_figures import bomb_png, measure

EDITOR_LABEL = "Mural photo: paint over the damage"


@pytest.fixture(scope="module")
def photo_editor(tmp_path_factory):
    """The Restore tab's own photo component, from the app as it is built."""
    from mural_inpaint.app import build_app
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.settings import AppSettings

    root = tmp_path_factory.mktemp("editor")
    context = create_context(AppSettings(db_path=root / "a.db", blind_systems=("telea",)), start_worker=False)
    demo = build_app(context)
    yield next(b for b in demo.blocks.values() if getattr(b, "label", "") == EDITOR_LABEL)
    context.close()


def through_the_tab(editor, path, mask_path=None):
    """What the Restore tab's handlers get for an upload of ``path`` (and a mask file), as the server hands it over."""
    from gradio.components.image_editor import EditorData
    from gradio.data_classes import FileData

    from mural_inpaint.app.restore_logic import image_and_mask

    value = editor.preprocess(EditorData(background=FileData(path=str(path), orig_name="wall.png"), layers=[]))
    return image_and_mask(value, str(mask_path) if mask_path else None)


def oriented_jpeg(displayed: np.ndarray, path, orientation: int = 6):
    """A JPEG whose pixels are stored rotated, with the EXIF tag that rotates them back to ``displayed``."""
    stored = Image.fromarray(displayed).transpose(Image.Transpose.ROTATE_90)  # 6 = turn 90 degrees clockwise to show
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, format="JPEG", quality=98, subsampling=0, exif=exif.tobytes())
    return path


def kinds(folder) -> dict[str, tuple]:
    """Tiny files of each kind -> (path, the RGB the app must see)."""
    grey16 = np.full((12, 16), 32896, np.uint16)
    grey16[:6] = 65535
    rgb16 = np.zeros((12, 16, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 32896, 0
    made = {}
    Image.fromarray(grey16).save(folder / "grey16.png")
    made["16-bit greyscale"] = (folder / "grey16.png", np.repeat(np.where(grey16 == 65535, 255, 128)
                                                                   .astype(np.uint8)[..., None], 3, 2))
    cv2.imwrite(str(folder / "rgb16.png"), rgb16[..., ::-1])  # OpenCV writes BGR
    made["16-bit RGB"] = (folder / "rgb16.png", np.broadcast_to(np.array([255, 128, 0], np.uint8), (12, 16, 3)))
    Image.fromarray(np.full((12, 16), 77, np.uint8), "L").save(folder / "grey.png")
    made["greyscale"] = (folder / "grey.png", np.full((12, 16, 3), 77, np.uint8))
    palette = Image.new("P", (16, 12))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putpixel((0, 0), 1)
    palette.save(folder / "palette.png")
    expected = np.broadcast_to(np.array([10, 20, 30], np.uint8), (12, 16, 3)).copy()
    expected[0, 0] = [200, 100, 50]
    made["palette"] = (folder / "palette.png", expected)
    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[..., :3] = [200, 0, 0]
    rgba[:6, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    expected = np.full((12, 16, 3), 255, np.uint8)
    expected[:6] = [200, 0, 0]
    made["alpha"] = (folder / "alpha.png", expected)
    return made


def test_every_kind_of_file_reaches_the_app_as_the_cli_reads_it(photo_editor, tmp_path):
    mask = np.zeros((12, 16), bool)
    mask[2:5, 3:9] = True
    mask_path = save_png(mask, tmp_path / "mask.png")
    for kind, (path, expected) in kinds(tmp_path).items():
        image, damage = through_the_tab(photo_editor, path, mask_path)
        cli_image, cli_damage = load_inputs(path, mask_path)
        assert np.array_equal(image, cli_image) and np.array_equal(damage, cli_damage), kind
        assert np.array_equal(image, expected), kind  # 16-bit scaled (32896 -> 128), not clipped to 255


@pytest.mark.parametrize("shape", [(32, 32), (24, 40)], ids=["square", "not square"])
def test_exif_rotated_photos_line_up_with_their_mask(photo_editor, tmp_path, shape):
    displayed = np.full((*shape, 3), 90, np.uint8)
    displayed[: shape[0] // 2, : shape[1] // 2] = [220, 30, 30]  # red top-left quarter, as the conservator sees it
    mask = np.zeros(shape, bool)
    mask[: shape[0] // 2, : shape[1] // 2] = True  # the damage they marked: that quarter
    path = oriented_jpeg(displayed, tmp_path / "rotated.jpg")
    image, damage = through_the_tab(photo_editor, path, save_png(mask, tmp_path / "mask.png"))
    assert image.shape == (*shape, 3) and np.array_equal(damage, mask)
    assert np.abs(image[damage].mean(axis=0) - [220, 30, 30]).max() < 8  # the mask covers the red quarter
    assert np.abs(image[~damage].mean(axis=0) - 90).max() < 8
    assert np.array_equal(image, load_inputs(path, tmp_path / "mask.png")[0])


def test_painted_layers_of_a_scaled_canvas_map_back_and_a_wrong_shape_is_refused(tmp_path):
    from mural_inpaint.app.restore_logic import image_and_mask

    photo = save_png(np.full((40, 60, 3), 120, np.uint8), tmp_path / "p.png")
    half = np.zeros((20, 30, 4), np.uint8)
    half[5:10, 5:10] = [255, 0, 255, 255]
    layer = io.BytesIO()
    Image.fromarray(half, "RGBA").save(layer, format="PNG")
    _, mask = image_and_mask({"background": str(photo), "layers": [layer.getvalue()]}, None)
    assert mask.sum() == 100 and mask[10:20, 10:20].all()
    turned = save_png(np.zeros((60, 40, 4), np.uint8), tmp_path / "turned.png")
    Image.fromarray(np.full((60, 40, 4), 255, np.uint8), "RGBA").save(turned)
    with pytest.raises(InputError, match="painted damage: the mask is 40x60 pixels but the image is 60x40"):
        image_and_mask({"background": str(photo), "layers": [str(turned)]}, None)


def test_bad_uploads_get_one_line_of_the_projects_own(photo_editor, tmp_path, monkeypatch):
    text = tmp_path / "notes.png"
    text.write_text("minutes of the conservation meeting")
    data = save_png(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8), tmp_path / "w.png")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(data.read_bytes()[:3000])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for path, expected in ((text, "not an image file that can be read"),
                           (truncated, "the image file is damaged or incomplete"),
                           (empty, "the file is empty")):
        with pytest.raises(InputError) as raised:
            through_the_tab(photo_editor, path)
        message = str(raised.value)
        assert message.startswith(f"uploaded photo: {expected}") and "\n" not in message, message
        assert str(tmp_path) not in message and "/tmp" not in message
    monkeypatch.setenv("MURALXGAN_MAX_UPLOAD_MB", "0.002")
    with pytest.raises(InputError, match=r"uploaded photo: the file is 0.0\d+ MB, above this server's upload limit "
                                         r"of 0.002 MB; send a smaller copy"):
        through_the_tab(photo_editor, data)


def test_a_pixel_bomb_is_refused_from_its_header_quickly_and_cheaply(tmp_path):
    """A 21 KB PNG declaring 177 megapixels, through the tab as the app builds it, in a fresh process."""
    path = tmp_path / "wall.png"
    path.write_bytes(bomb_png(13312, 13312))
    assert path.stat().st_size < 30_000
    result = measure("app", path, tmp_path)
    assert "177.2 megapixels), above the limit" in result["message"]
    assert result["seconds"] < 0.5 and result["peak_growth_mb"] < 50, result  # Gradio's decoder: ~3-10 s, 1-2 GB


def test_gradio_refuses_oversized_uploads_and_the_limit_is_documented(app_server):
    import httpx

    from mural_inpaint.app.uploads import max_upload_bytes

    url, _ = app_server
    big = b"\x89PNG" + bytes(max_upload_bytes() + 1000)
    response = httpx.post(url + "gradio_api/upload", files={"files": ("big.png", big, "image/png")}, timeout=60)
    assert response.status_code == 413
    small = httpx.post(url + "gradio_api/upload", files={"files": ("s.png", b"\x89PNG", "image/png")}, timeout=60)
    assert small.status_code == 200


def test_bad_uploads_over_http_show_no_server_path(app_server, tmp_path, mural, hole):
    from gradio_client import Client, handle_file

    client = Client(app_server[0], verbose=False, download_files=str(tmp_path))
    mask_path = str(save_png(hole, tmp_path / "m.png"))
    text = tmp_path / "wall.png"
    text.write_text("not a photo")
    for path in (text, oriented_jpeg(mural, tmp_path / "cut.jpg")):
        if path.suffix == ".jpg":
            path.write_bytes(path.read_bytes()[:400])
        editor = {"background": handle_file(str(path)), "layers": [], "composite": None}
        with pytest.raises(Exception) as raised:
            client.predict(editor, handle_file(mask_path), "", "telea", api_name="/restore")
        message = str(raised.value)
        assert "uploaded photo: " in message and "/tmp" not in message and "gradio" not in message.lower(), message

    grey16 = np.full(hole.shape, 32896, np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    editor = {"background": handle_file(str(tmp_path / "grey16.png")), "layers": [], "composite": None}
    _, _, downloads, _ = client.predict(editor, handle_file(mask_path), "", "telea", api_name="/restore")
    restored = np.asarray(Image.open(next(p for p in downloads if p.endswith("restored.png"))))
    assert (restored[~hole] == 128).all()  # scaled, not clipped to 255
