"""What a hostile upload costs the app: a 21 KB PNG that declares 177 megapixels, sent to the Restore tab.

    python scripts/upload_figures.py [--width 13312] [--height 13312]

Each path runs in its own process and reports seconds and peak-memory growth (``ru_maxrss``) from the moment the
upload is handed to the Restore tab's photo component until it is refused (or decoded):

- ``gradio``: Gradio's stock ``gr.ImageEditor`` (what the tab used before issue 14): it decodes and converts the whole
  image before the handler can look at it;
- ``app``: the tab as it is (``photo_editor`` + :mod:`mural_inpaint.app.uploads`): refused from the PNG header.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 13312, height: int = 13312) -> bytes:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` black pixels, compressed row by row (about 21 KB for
    177 MP): decodable in full, so only a check of the header refuses it cheaply."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


_MEASURE = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData
import gradio as gr
from mural_inpaint.app.photo_editor import photo_editor
from mural_inpaint.app.restore_logic import image_and_mask
from mural_inpaint.errors import MuralXGANError

mode, path = sys.argv[1], sys.argv[2]
if mode == "gradio":
    editor = gr.ImageEditor(type="numpy", format="png")
elif mode == "app":
    from mural_inpaint.app import build_app
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.settings import AppSettings
    context = create_context(AppSettings(db_path=sys.argv[3], blind_systems=("telea",)), start_worker=False)
    demo = build_app(context)
    editor = next(b for b in demo.blocks.values() if getattr(b, "label", "") == "Mural photo: paint over the damage")
else:
    editor = photo_editor(type="filepath", format="png")
payload = EditorData(background=FileData(path=path, orig_name="wall.png"), layers=[], composite=None)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    image_and_mask(editor.preprocess(payload), None)
    message = "accepted"
except MuralXGANError as error:
    message = str(error)
except Exception as error:
    message = f"{{type(error).__name__}}: {{error}}"
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({{"mode": mode, "seconds": seconds, "peak_growth_mb": grown / 1024, "message": message[:300]}}))
"""


def measure(mode: str, path: Path, workdir: Path, timeout: float = 300) -> dict:
    """Run one path in a fresh process (``gradio``, ``editor`` or ``app``) -> seconds, peak growth, message."""
    code = _MEASURE.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, mode, str(path), str(workdir / f"{mode}.db")],
                          capture_output=True, text=True, timeout=timeout, cwd=workdir)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=13312)
    parser.add_argument("--height", type=int, default=13312)
    parser.add_argument("--modes", default="gradio,app")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="muralxgan-uploads-"))
    path = workdir / "wall.png"
    path.write_bytes(bomb_png(args.width, args.height))
    print(f"{path.name}: {path.stat().st_size / 1000:.1f} KB declaring {args.width * args.height / 1e6:.1f} MP")
    for mode in args.modes.split(","):
        result = measure(mode, path, workdir)
        print(f"{mode:7s} {result['seconds'] * 1000:9.1f} ms  peak +{result['peak_growth_mb']:7.1f} MB  "
              f"{result['message']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
