"""Outlines a description says cross a loss, drawn across it: text that steers line work.

The surroundings show where outlines run up to a loss, but not whether they went on across it: an outline may end at
the loss, or two that meet its rim may belong to different figures. A conservator who knows (from the mural, other
photos, the iconography) says so: "A black outline crossed the lost area." Only such a sentence, naming a line and a
crossing, switches this stage on; the machine's own descriptions never do ("Line work runs up to the damaged area"
describes the surroundings), so restorations without those words are untouched.

What is drawn: the dark thin strokes that reach the loss are found in a band of intact paint around it (black-hat
filtering, so a dark stroke on lighter ground, whatever its colour); each gives an end: where it meets the loss, the
direction it runs in, its width and its colour. Ends facing each other across the loss are paired, best first, and
each pair is joined by a cubic Hermite curve that leaves and arrives along the strokes' own directions, in their
colour and width, antialiased, only over damaged pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np

_LINE = re.compile(r"\b(out ?lines?|lines?|contours?|strokes?|brush ?lines?|linework|line work)\b")
_CROSSING = re.compile(r"\b(cross(es|ed|ing)?|across|through|continu\w*|join\w*|connect\w*|went on|ran over)\b")
_NOT = re.compile(r"\b(no|not|never|nor|without)\b")

#: band of intact paint around a loss searched for strokes reaching it, in pixels
BAND = 10
#: a stroke is darker than its surroundings' closing by at least this much (grey levels, 0-255)
MIN_CONTRAST = 25.0
#: tangent length of the joining curve, as a share of the distance between the ends
TANGENT = 0.5
#: share of the joining curve that must run over the loss (one that leaves it joins strokes of different forms)
MIN_INSIDE = 0.9
#: strokes wider than this are fields of dark paint, not line work (pixels)
MAX_WIDTH = 9.0


@dataclass
class NamedLines:
    """What a description says crossed a loss: ``several`` outlines or one, and the colour named for it (None: any)."""

    several: bool
    colour: str | None


#: stroke colours a description may name, as sRGB anchors (a stroke takes the name of its nearest anchor)
LINE_COLOURS = {"black": (35, 30, 28), "grey": (110, 105, 100), "brown": (105, 70, 45), "red": (165, 55, 40),
                "orange": (200, 120, 60), "yellow": (200, 170, 80), "green": (60, 125, 100), "blue": (55, 75, 140),
                "white": (225, 220, 205)}
_COLOUR_WORDS = {"black": "black", "ink": "black", "dark": "black", "grey": "grey", "gray": "grey", "brown": "brown",
                 "red": "red", "vermilion": "red", "cinnabar": "red", "orange": "orange", "yellow": "yellow",
                 "ochre": "yellow", "green": "green", "malachite": "green", "blue": "blue", "azurite": "blue",
                 "white": "white"}


def named_lines(text: str | None) -> NamedLines | None:
    """What ``text`` says crossed the loss: a sentence naming a line and a crossing ("A black outline crossed the
    lost area."), not denying it ("No outline crossed it."); None when no sentence does."""
    for sentence in re.split(r"(?<=[.;!?])\s+", (text or "").lower()):
        line = _LINE.search(sentence)
        if not line or not _CROSSING.search(sentence) or _NOT.search(sentence):
            continue
        words = re.findall(r"[a-z]+", sentence[:line.start()])[-3:]  # "a thin black outline": the words before it
        colour = next((_COLOUR_WORDS[w] for w in reversed(words) if w in _COLOUR_WORDS), None)
        several = line.group(0).endswith("s") or bool(re.search(r"\b(two|three|several|both|lines|outlines)\b",
                                                                 sentence))
        return NamedLines(several, colour)
    return None


def colour_name(colour: np.ndarray) -> str:
    """The :data:`LINE_COLOURS` name nearest to an RGB colour."""
    return min(LINE_COLOURS, key=lambda name: float(np.linalg.norm(colour - np.array(LINE_COLOURS[name]))))


@dataclass
class LineEnd:
    """A stroke reaching a loss: ``point`` (row, col) where it meets the damage, ``direction`` the unit vector it runs
    in, into the loss; ``width`` in pixels; ``colour`` uint8-range RGB floats."""

    point: np.ndarray
    direction: np.ndarray
    width: float
    colour: np.ndarray


def dark_strokes(image: np.ndarray, width: float = MAX_WIDTH) -> np.ndarray:
    """float32 ``[H, W]``: how much darker than a grey closing of ``width`` + 2 px each pixel is (0 where lighter);
    dark thin strokes stand out, broad dark fields do not."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    side = int(2 * round(width / 2) + 3)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    return cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel)


def line_ends(image: np.ndarray, loss: np.ndarray, damage: np.ndarray) -> list[LineEnd]:
    """The strokes of ``image`` uint8 ``[H, W, 3]`` that reach the loss ``loss`` (bool ``[H, W]``, one connected
    part of ``damage``), from the intact band around it; damaged pixels are never read."""
    band = (cv2.dilate(loss.astype(np.uint8), np.ones((2 * BAND + 1, 2 * BAND + 1), np.uint8)) > 0) & ~damage
    contrast = dark_strokes(image)
    strokes = band & (contrast >= MIN_CONTRAST)
    touching = cv2.dilate(loss.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    count, labels = cv2.connectedComponents(strokes.astype(np.uint8), connectivity=8)
    distance = cv2.distanceTransform((~loss).astype(np.uint8), cv2.DIST_L2, 3)
    inside = cv2.distanceTransform(strokes.astype(np.uint8), cv2.DIST_L2, 3)  # half widths, along the stroke's ridge
    ends = []
    for label in range(1, count):
        part = labels == label
        contact = part & touching
        if contact.sum() < 2 or part.sum() < 6:
            continue
        rows, cols = np.nonzero(part)
        point = np.array([rows[contact[rows, cols]].mean(), cols[contact[rows, cols]].mean()])
        far = distance[rows, cols] >= 0.6 * distance[rows, cols].max()
        start = np.array([rows[far].mean(), cols[far].mean()])
        direction = point - start
        if np.linalg.norm(direction) < 2:
            continue  # a blot at the rim, not a stroke running up to it
        width = max(1.0, 2.0 * float(inside[part].max()) - 1.0)
        if width > MAX_WIDTH:
            continue
        ends.append(LineEnd(point, direction / np.linalg.norm(direction), width,
                            np.median(image[part].astype(np.float32), axis=0)))
    return ends


def pair_ends(ends: list[LineEnd], min_facing: float = 0.5, max_colour: float = 60.0) -> list[tuple[int, int]]:
    """Ends that face each other across the loss, best first, each used once: both must point towards the other
    (cosine at least ``min_facing``), with colours within ``max_colour`` (RGB distance) and widths within 2.5x."""
    options = []
    for i in range(len(ends)):
        for j in range(i + 1, len(ends)):
            a, b = ends[i], ends[j]
            chord = b.point - a.point
            length = np.linalg.norm(chord)
            if length < 3:
                continue
            facing_a, facing_b = a.direction @ chord / length, -(b.direction @ chord) / length
            colour = float(np.linalg.norm(a.colour - b.colour))
            if min(facing_a, facing_b) < min_facing or colour > max_colour:
                continue
            if max(a.width, b.width) > 2.5 * min(a.width, b.width):
                continue
            options.append((facing_a + facing_b - colour / max_colour, i, j))
    used, pairs = set(), []
    for _, i, j in sorted(options, reverse=True):
        if i in used or j in used:
            continue
        if any(_chords_cross(ends[i].point, ends[j].point, ends[k].point, ends[m].point) for k, m in pairs):
            continue  # outlines of one design do not cut through each other
        pairs.append((i, j))
        used |= {i, j}
    return pairs


def _chords_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    def side(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


def hermite(a: LineEnd, b: LineEnd, samples: int) -> np.ndarray:
    """float ``[samples, 2]`` (row, col) points of the cubic Hermite curve from ``a`` to ``b``, leaving ``a`` along its
    direction and arriving at ``b`` against its direction (out of the loss the way ``b``'s stroke runs)."""
    length = float(np.linalg.norm(b.point - a.point))
    t = np.linspace(0.0, 1.0, samples)[:, None]
    h00, h10, h01, h11 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t, -2 * t**3 + 3 * t**2, t**3 - t**2
    # tangents of half the chord: a gentle bend, where a full chord's length swings wide when the strokes are oblique
    reach = TANGENT * length
    return h00 * a.point + h10 * reach * a.direction + h01 * b.point + h11 * reach * (-b.direction)


def draw_named_lines(restored: np.ndarray, damage: np.ndarray, named: NamedLines,
                     min_depth: float = 3.0) -> tuple[np.ndarray, int]:
    """``restored`` uint8 ``[H, W, 3]`` (known pixels are the photo's) with the strokes reaching each sizeable loss of
    ``damage`` (bool ``[H, W]``; thinner than ``min_depth`` px deep everywhere: a crack, skipped) joined across it, as
    ``named`` says: the best-facing pair of strokes of the named colour, or every such pair when several outlines
    were named.  Returns (image, number of lines drawn); only damaged pixels change."""
    depth = cv2.distanceTransform(damage.astype(np.uint8), cv2.DIST_L2, 3)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(damage.astype(np.uint8), connectivity=8)
    out = restored.astype(np.float32)
    drawn = 0
    height, width = damage.shape
    margin = BAND + MAX_WIDTH + 4  # the band, and the closing that finds strokes in it
    for label in range(1, count):
        left, top, box_w, box_h = stats[label, :4]
        box = (slice(max(0, int(top - margin)), min(height, int(top + box_h + margin))),
               slice(max(0, int(left - margin)), min(width, int(left + box_w + margin))))
        loss = labels[box] == label
        if depth[box][loss].max() < min_depth:
            continue
        ends = line_ends(restored[box], loss, damage[box])
        if named.colour is not None:
            ends = [end for end in ends if colour_name(end.colour) == named.colour]
        for i, j in pair_ends(ends)[:None if named.several else 1]:
            a, b = ends[i], ends[j]
            points = hermite(a, b, samples=max(8, int(3 * np.linalg.norm(b.point - a.point))))
            rows, cols = np.clip(np.rint(points).astype(int), 0, np.array(loss.shape) - 1).T
            near_ends = (np.linalg.norm(points - a.point, axis=1) < 3) | (np.linalg.norm(points - b.point, axis=1) < 3)
            between = loss[rows, cols][~near_ends]
            if not between.size or between.mean() < MIN_INSIDE:
                continue
            alpha = np.zeros(loss.shape, np.float32)
            polyline = np.round(points[:, ::-1] * 16).astype(np.int32)  # (x, y), 4 fractional bits
            thickness = max(1, round((a.width + b.width) / 2 - 1))  # antialiasing widens by about 1 px
            cv2.polylines(alpha, [polyline], False, 1.0, thickness, cv2.LINE_AA, shift=4)
            alpha = (np.clip(alpha, 0, 1) * loss)[..., None]
            out[box] = out[box] * (1 - alpha) + (a.colour + b.colour) / 2 * alpha
            drawn += 1
    result = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    result[~damage] = restored[~damage]
    return result, drawn
