"""Image grids for people to look at: benchmark comparisons and training samples share this one function."""

from __future__ import annotations

import numpy as np

GRID_CELL = 256
MAGENTA = (255, 0, 255)  # marks holes in shown inputs: no mural pigment looks like it


def with_hole_shown(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W, 3]`` copy with the damaged pixels (``mask`` True) painted magenta."""
    shown = image.copy()
    shown[mask] = MAGENTA
    return shown


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def make_grid(rows: list[list[np.ndarray]], labels: list[str], row_labels: list[str] | None = None,
              cell: int = GRID_CELL, cell_labels: list[list[str | None]] | None = None, title: str | None = None):
    """A PIL image: ``rows`` of equally many uint8 images, each fitted into a ``cell`` square, labelled columns.

    ``row_labels`` are written at the bottom left of each row's first cell, ``cell_labels[r][c]`` (None: nothing) at
    the bottom of that cell, ``title`` in a line above the column labels.
    """
    from PIL import Image, ImageDraw

    header, gap = 24 + (22 if title else 0), 4
    width = len(labels) * (cell + gap) + gap
    sheet = Image.new("RGB", (width, header + len(rows) * (cell + gap) + gap), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font, small = _font(14), _font(12)
    if title:
        draw.text((gap + 2, 11), title, fill=(60, 60, 60), font=small, anchor="lm")
    for column, label in enumerate(labels):
        draw.text((gap + column * (cell + gap) + cell // 2, header - 12), label, fill=(0, 0, 0), font=font,
                  anchor="mm")

    def tag(x: int, y: int, text: str, anchor: str) -> None:
        box = draw.textbbox((x, y), text, font=small, anchor=anchor)
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
        draw.text((x, y), text, fill=(255, 255, 255), font=small, anchor=anchor)

    for r, images in enumerate(rows):
        top = header + r * (cell + gap)
        for column, image in enumerate(images):
            tile = Image.fromarray(image)
            scale = cell / max(tile.size)
            size = (max(1, round(tile.width * scale)), max(1, round(tile.height * scale)))
            tile = tile.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
            left = gap + column * (cell + gap)
            sheet.paste(tile, (left + (cell - size[0]) // 2, top + (cell - size[1]) // 2))
            text = cell_labels[r][column] if cell_labels and column < len(cell_labels[r]) else None
            if text:
                tag(left + cell // 2, top + cell - 4, text, "mb")
        if row_labels:
            tag(gap + 4, top + cell - 4, row_labels[r], "lb")
    return sheet


def win_rate_image(systems: list[str], matrix: np.ndarray, cell: int = 96) -> np.ndarray:
    """Heat map of ``matrix[i, j]`` = row system's win rate against the column system (NaN: never met).

    uint8 ``[H, W, 3]``: red below 50 %, white at 50 %, green above, the percentage written in each cell.
    """
    from PIL import Image, ImageDraw

    font = _font(13)
    label_width = max([int(_font(13).getlength(s)) for s in systems] + [40]) + 16
    size = len(systems)
    sheet = Image.new("RGB", (label_width + size * cell + 8, 28 + size * cell + 8 + 18), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for j, system in enumerate(systems):
        draw.text((label_width + j * cell + cell // 2, 14), system[:14], fill=(0, 0, 0), font=font, anchor="mm")
    for i, system in enumerate(systems):
        top = 28 + i * cell
        draw.text((label_width - 8, top + cell // 2), system, fill=(0, 0, 0), font=font, anchor="rm")
        for j in range(size):
            value = matrix[i, j]
            left = label_width + j * cell
            if np.isnan(value):
                colour, text = (235, 235, 235), "-"
            else:
                strength = abs(value - 0.5) * 2
                low, high = np.array([214, 96, 77]), np.array([77, 172, 38])
                target = high if value >= 0.5 else low
                colour = tuple(int(c) for c in np.round(255 + (target - 255) * strength))
                text = f"{100 * value:.0f}%"
            draw.rectangle((left, top, left + cell - 2, top + cell - 2), fill=colour)
            draw.text((left + cell // 2 - 1, top + cell // 2 - 1), text, fill=(0, 0, 0), font=font, anchor="mm")
    draw.text((8, 28 + size * cell + 6), "row system's win rate against column system (ties count half)",
              fill=(80, 80, 80), font=_font(11))
    return np.asarray(sheet)
