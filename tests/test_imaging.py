import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import composite, image_to_tensor, load_image, load_mask, save_png, tensor_to_image


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def test_every_source_type_gives_the_same_rgb(tmp_path, mural):
    path = save_png(mural, tmp_path / "m.png")
    pil = Image.fromarray(mural)
    for source in (path, str(path), path.read_bytes(), io.BytesIO(path.read_bytes()), pil, mural):
        loaded = load_image(source)
        assert loaded.dtype == np.uint8 and loaded.shape == mural.shape
        assert np.array_equal(loaded, mural)
        assert loaded.flags.writeable


def test_rgba_is_flattened_onto_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red-ish, bottom transparent
    out = load_image(Image.fromarray(rgba, "RGBA"))
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[3, 3].tolist() == [255, 255, 255]


def test_grayscale_palette_and_sixteen_bit():
    gray = Image.fromarray(np.full((5, 6), 77, np.uint8), "L")
    assert load_image(gray)[0, 0].tolist() == [77, 77, 77]
    palette = Image.fromarray(np.full((5, 6, 3), [10, 20, 30], np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert load_image(png_bytes(palette))[0, 0].tolist() == [10, 20, 30]
    sixteen = Image.fromarray(np.full((5, 6), 65535, np.uint16))
    assert load_image(png_bytes(sixteen))[0, 0].tolist() == [255, 255, 255]
    assert load_image(np.full((2, 2, 3), 32896, np.uint16))[0, 0].tolist() == [128, 128, 128]
    assert load_image(np.full((2, 2, 3), 0.5, np.float32))[0, 0].tolist() == [128, 128, 128]


def test_exif_rotation_is_applied():
    wide = Image.fromarray(np.zeros((10, 30, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rotated = load_image(png_bytes(wide, format="JPEG", exif=exif.tobytes()))
    assert rotated.shape == (30, 10, 3)


def test_mask_conventions_are_binarised():
    zero_one = np.array([[0, 1], [1, 0]], np.uint8)
    assert load_mask(zero_one).tolist() == [[False, True], [True, False]]
    class_map = np.array([[0, 3], [2, 0]], np.uint8)  # label maps: any non-zero class is damage
    assert load_mask(class_map).tolist() == [[False, True], [True, False]]
    zero_255 = np.array([[0, 255], [200, 100]], np.uint8)
    assert load_mask(zero_255).tolist() == [[False, True], [True, False]]
    rgb = Image.fromarray(np.stack([zero_255] * 3, -1))
    assert load_mask(png_bytes(rgb)).tolist() == [[False, True], [True, False]]
    painted = np.zeros((2, 2, 4), np.uint8)
    painted[0, 0] = [255, 0, 0, 255]  # a painted layer: alpha marks damage
    assert load_mask(Image.fromarray(painted, "RGBA")).tolist() == [[True, False], [False, False]]


def test_mask_of_another_size_is_refused():
    with pytest.raises(InputError, match="mask is 3x2 pixels but the image is 4x5"):
        load_mask(np.zeros((2, 3), np.uint8), expected_size=(5, 4))


def test_too_large_images_are_refused_before_decoding(tmp_path, monkeypatch):
    path = save_png(np.zeros((100, 100, 3), np.uint8), tmp_path / "big.png")
    with pytest.raises(InputError, match=r"big.png: the image is 100x100 pixels .* above the limit"):
        load_image(path, max_pixels=5000)
    monkeypatch.setenv("MURALXGAN_MAX_PIXELS", "5000")
    with pytest.raises(InputError, match="MURALXGAN_MAX_PIXELS"):
        load_image(path)


def test_decompression_bomb_gives_one_line(tmp_path):
    # A tiny PNG whose header claims 100000 x 100000 pixels: refused from the header, before any decoding.
    data = bytearray(png_bytes(Image.new("L", (8, 8))))
    data[16:24] = struct.pack(">II", 100000, 100000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as raised:
        load_image(path)
    assert str(raised.value).startswith("bomb.png: ")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"this is a text file, not a picture", "not an image file"),
    ],
)
def test_non_images_give_a_readable_error(content, expected):
    with pytest.raises(InputError, match=expected):
        load_image(content)


def test_corrupt_and_missing_files_name_the_file(tmp_path, mural):
    data = save_png(mural, tmp_path / "ok.png").read_bytes()
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="^broken.png: the image file is damaged or incomplete"):
        load_image(corrupt)
    with pytest.raises(InputError, match="^nothere.png: file not found"):
        load_image(tmp_path / "nothere.png")


def test_tensor_round_trip_is_lossless(mural, hole):
    assert np.array_equal(tensor_to_image(image_to_tensor(mural)), mural)
    blended = composite(mural, np.zeros_like(mural), hole)
    assert np.array_equal(blended[~hole], mural[~hole]) and (blended[hole] == 0).all()


def test_save_png_replaces_a_file_whole_so_a_reader_never_meets_half_of_it(tmp_path, monkeypatch):
    """Two raters asking for the same mural's damage view at once: one writes it while the other reads it."""
    from PIL import Image

    path = save_png(np.zeros((8, 8, 3), np.uint8), tmp_path / "view.png")
    old_bytes = path.read_bytes()
    seen_while_writing = []
    real_save = Image.Image.save

    def watched_save(self, target, *args, **kwargs):
        real_save(self, target, *args, **kwargs)
        seen_while_writing.append(path.read_bytes())  # what a reader finds at the final path, new bytes written

    monkeypatch.setattr(Image.Image, "save", watched_save)
    new = np.full((8, 8, 3), 200, np.uint8)
    save_png(new, path)
    assert seen_while_writing == [old_bytes]  # the old picture, whole, until the new one is complete and moved in
    assert np.array_equal(load_image(path), new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["view.png"]  # no partial file left behind
