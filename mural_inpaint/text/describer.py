"""Damage-aware description of a mural: where the damage is, how much, what kind, and which pigments surround it.

The describer reads only the mask and the visible paint, so it works offline on any image.  Given a clean reference
(training data), it also says what the lost area held: the privileged "expert" caption the generator learns from.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from mural_inpaint.palette import pigment_shares

#: Statistics are computed on a copy no larger than this (longest side); percentages use the full-size mask.
ANALYSIS_SIDE = 768
CELL_NAMES = (
    ("upper left", "top centre", "upper right"),
    ("left side", "centre", "right side"),
    ("lower left", "bottom centre", "lower right"),
)
KIND_PHRASES = {
    "crack": "crack-like fissures",
    "flake": "flaking or peeling paint",
    "loss": "large losses of the paint layer",
}


@dataclass
class DamageRegion:
    """One connected damaged region (measured on the analysis copy)."""

    area_fraction: float  # of the whole image
    location: str
    kind: str  # "crack" | "flake" | "loss"
    mean_width_px: float
    length_px: float


@dataclass
class DamageDescription:
    """A structured description; ``text`` is the readable sentence(s) used as the caption."""

    text: str
    damaged_percent: float
    region_count: int
    locations: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    surrounding_pigments: list[tuple[str, float]] = field(default_factory=list)
    lost_pigments: list[tuple[str, float]] = field(default_factory=list)
    lost_content: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _analysis_copy(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    height, width = mask.shape
    scale = ANALYSIS_SIDE / max(height, width)
    if scale >= 1:
        return image, mask
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    # Any damage inside a downscaled pixel keeps it damaged, so thin cracks survive the reduction.
    small_mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return small_image, small_mask


def _cell_of(y: float, x: float, height: int, width: int) -> str:
    return CELL_NAMES[min(int(3 * y / height), 2)][min(int(3 * x / width), 2)]


def _cell_counts(ys: np.ndarray, xs: np.ndarray, height: int, width: int) -> Counter:
    """How many of the pixels (``ys``, ``xs``) fall in each ninth of the mural, as a :class:`Counter` whose ties keep
    the order in which the cells first appear (what counting pixel by pixel gives), without a loop over pixels."""
    codes = 3 * np.minimum(3 * ys // height, 2) + np.minimum(3 * xs // width, 2)
    present, first, counts = np.unique(codes, return_index=True, return_counts=True)
    names = [name for row in CELL_NAMES for name in row]
    return Counter({names[code]: int(count) for _, code, count in sorted(zip(first, present, counts))})


def _classify_region(component: np.ndarray, image_area: int, side: int) -> tuple[str, float, float]:
    """(kind, mean width, skeleton length) of one bool component."""
    from skimage.morphology import skeletonize

    area = int(component.sum())
    length = max(float(skeletonize(component).sum()), 1.0)
    mean_width = area / length
    if mean_width <= max(3.0, 0.012 * side) and length >= 4 * mean_width:
        return "crack", mean_width, length
    if area >= 0.02 * image_area:
        return "loss", mean_width, length
    return "flake", mean_width, length


def find_regions(mask: np.ndarray) -> list[DamageRegion]:
    """Connected damaged regions of a bool ``[H, W]`` mask, largest first; specks under 0.01 % are ignored."""
    height, width = mask.shape
    # Join fragments a few pixels apart (a crack broken by a speck of paint is still one crack).
    joined = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=1)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(joined, connectivity=8)
    regions = []
    min_area = max(4, int(1e-4 * height * width))
    for index in range(1, count):
        x, y, w, h, _ = stats[index]
        component = (labels[y : y + h, x : x + w] == index) & mask[y : y + h, x : x + w]
        area = int(component.sum())
        if area < min_area:
            continue
        kind, mean_width, length = _classify_region(component, height * width, min(height, width))
        cy, cx = centroids[index][1], centroids[index][0]
        regions.append(DamageRegion(area / (height * width), _cell_of(cy, cx, height, width), kind, mean_width, length))
    return sorted(regions, key=lambda region: -region.area_fraction)


def _location_phrase(mask: np.ndarray, regions: list[DamageRegion]) -> tuple[str, list[str]]:
    """Where the damage is, in ninths of the mural: the cells holding at least 15 % of the damaged pixels, and the
    cell of every region holding at least 8 % of them (four marks of a size are four places, even when two are
    smaller than the rest), largest first."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    step = max(1, len(ys) // 20000)  # a regular subsample is plenty for shares of nine cells
    cells = _cell_counts(ys[::step], xs[::step], height, width)
    total = sum(cells.values())
    present = [name for name, n in cells.most_common() if n >= 0.05 * total]
    if len(present) >= 7:
        return "spread across the whole mural", present
    names = [name for name, n in cells.most_common() if n >= 0.15 * total]
    damaged = float(mask.mean())
    for region in regions:  # largest first
        if region.area_fraction >= 0.08 * damaged and region.location not in names:
            names.append(region.location)
    names = names or [cells.most_common(1)[0][0]]
    shown = names[:4]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    if len(names) > 4:
        return f"in the {', '.join(shown)} and elsewhere", names
    return (f"mostly in the {listed}" if len(names) <= 2 else f"in the {listed}"), names


def _kind_phrase(regions: list[DamageRegion]) -> tuple[str, dict[str, int]]:
    kinds = Counter(region.kind for region in regions)
    weight = Counter()
    for region in regions:
        weight[region.kind] += region.area_fraction
    order = [kind for kind, _ in weight.most_common()]
    phrases = [KIND_PHRASES[kind] for kind in order]
    if len(phrases) == 1:
        return phrases[0], dict(kinds)
    return "mainly " + phrases[0] + ", with " + " and ".join(phrases[1:]), dict(kinds)


def _pigment_phrase(shares: list[tuple[str, float]]) -> str:
    main = [(n, s) for n, s in shares if s >= 0.25][:2] or shares[:1]
    minor = [(n, s) for n, s in shares if 0.08 <= s < 0.25 and (n, s) not in main][:2]
    text = " and ".join(f"{n} ({s:.0%})" for n, s in main)
    if minor:
        text += ", with some " + " and ".join(f"{n} ({s:.0%})" for n, s in minor)
    return text


def _line_density(image: np.ndarray, region: np.ndarray) -> float:
    """Fraction of ``region`` pixels on an edge of the painting (outlines, drapery folds, inscriptions)."""
    if not region.any():
        return 0.0
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 60, 150) > 0
    return float(edges[region].mean())


def _ring(mask: np.ndarray, width: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask


def _percent_text(percent: float) -> str:
    return "less than 0.1%" if percent < 0.05 else f"{percent:.1f}%"


def describe_damage(image: np.ndarray, mask: np.ndarray, reference: np.ndarray | None = None) -> DamageDescription:
    """Describe the damage marked by ``mask`` on ``image``.

    Args:
        image: uint8 ``[H, W, 3]`` RGB, the damaged photo (pixels under the mask are not trusted).
        mask: bool ``[H, W]``, True = damage; must match ``image``.
        reference: optional uint8 ``[H, W, 3]`` clean image; when given, the description also says what the lost
            area held (pigments and line work), the privileged caption used in training.

    Returns:
        a :class:`DamageDescription` whose ``text`` reads like
        "Damage covers 12.4% of the mural in 3 regions, mostly in the upper left and centre: mainly flaking or
        peeling paint, with crack-like fissures. The surrounding paint is malachite green (45%) and lead / kaolin
        white (30%)."
    """
    percent = 100.0 * float(mask.mean())
    if percent == 0:
        return DamageDescription("No damage is marked.", 0.0, 0)
    small_image, small_mask = _analysis_copy(image, mask)
    regions = find_regions(small_mask)
    where, locations = _location_phrase(small_mask, regions)
    if regions:
        kind_text, kinds = _kind_phrase(regions)
        count = len(regions)
    else:  # only specks below the region size threshold
        count = cv2.connectedComponents(small_mask.astype(np.uint8), connectivity=8)[0] - 1
        kind_text, kinds = "scattered specks of lost paint", {"speck": count}
    regions_text = f"{count} region{'s' if count != 1 else ''}"
    sentences = [f"Damage covers {_percent_text(percent)} of the mural in {regions_text}, {where}: {kind_text}."]
    ring_width = max(3, round(0.03 * min(small_mask.shape)))
    ring = _ring(small_mask, ring_width)
    surrounding = pigment_shares(small_image[ring])
    if surrounding:
        sentences.append(f"The surrounding paint is {_pigment_phrase(surrounding)}.")
    if _line_density(small_image, ring) > 0.12:
        sentences.append("Line work runs up to the damaged area.")
    lost, lost_content = [], None
    if reference is not None:
        small_reference, _ = _analysis_copy(reference, mask)
        lost = pigment_shares(small_reference[small_mask])
        lines = _line_density(small_reference, small_mask)
        texture = "fine line work" if lines > 0.12 else ("some outlines" if lines > 0.04 else "mostly flat colour")
        lost_content = f"The lost area held {_pigment_phrase(lost)}, {texture}."
        sentences.append(lost_content)
    return DamageDescription(
        text=" ".join(sentences),
        damaged_percent=round(percent, 2),
        region_count=count,
        locations=locations,
        kinds=kinds,
        surrounding_pigments=[(n, round(s, 4)) for n, s in surrounding],
        lost_pigments=[(n, round(s, 4)) for n, s in lost],
        lost_content=lost_content,
    )
