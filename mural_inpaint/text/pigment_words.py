"""What the lost paint was, read from a description: palette pigments named for the damaged area.

A sentence embedding of a whole damage description carries a conservator's "the robe was malachite green" only
faintly (it is one clause among percentages and placements).  This reader turns the words about the lost paint into
an explicit vector over :data:`mural_inpaint.palette.DUNHUANG_PALETTE`, which the generator is conditioned on beside
the sentence embedding (:class:`PigmentAwareEncoder`), so a named pigment can steer the fill.

Sentences about the surroundings ("The surrounding paint is ...") and scene captions ("Scene: ...") are skipped: they
say what is around the loss, which the pixels already show.
"""

from __future__ import annotations

import re

import numpy as np

from mural_inpaint.palette import DUNHUANG_PALETTE

#: Words and phrases -> palette index; full palette names are matched first, so "lead / kaolin white" is white and
#: "darkened lead brown-black" is not also black.
_INDEX = {pigment.name: index for index, pigment in enumerate(DUNHUANG_PALETTE)}
ALIASES: dict[str, int] = {
    **{pigment.name: index for index, pigment in enumerate(DUNHUANG_PALETTE)},
    "cinnabar": _INDEX["cinnabar / vermilion red"], "vermilion": _INDEX["cinnabar / vermilion red"],
    "vermillion": _INDEX["cinnabar / vermilion red"], "red": _INDEX["cinnabar / vermilion red"],
    "red ochre": _INDEX["red ochre"], "ochre": _INDEX["red ochre"], "haematite": _INDEX["red ochre"],
    "hematite": _INDEX["red ochre"],
    "malachite": _INDEX["malachite green"], "atacamite": _INDEX["malachite green"], "green": _INDEX["malachite green"],
    "azurite": _INDEX["azurite / lapis blue"], "lapis": _INDEX["azurite / lapis blue"],
    "ultramarine": _INDEX["azurite / lapis blue"], "blue": _INDEX["azurite / lapis blue"],
    "orpiment": _INDEX["orpiment yellow"], "yellow": _INDEX["orpiment yellow"], "gold": _INDEX["orpiment yellow"],
    "kaolin": _INDEX["lead / kaolin white"], "lead white": _INDEX["lead / kaolin white"],
    "white": _INDEX["lead / kaolin white"], "chalk": _INDEX["lead / kaolin white"],
    "carbon black": _INDEX["carbon black"], "ink": _INDEX["carbon black"], "black": _INDEX["carbon black"],
    "darkened lead": _INDEX["darkened lead brown-black"], "brown": _INDEX["darkened lead brown-black"],
    "clay": _INDEX["earthen clay ground"], "earthen": _INDEX["earthen clay ground"],
    "ground": _INDEX["earthen clay ground"], "beige": _INDEX["earthen clay ground"],
    "plaster": _INDEX["earthen clay ground"],
}
_PATTERN = re.compile(
    r"(?<![a-z])(" + "|".join(re.escape(a) for a in sorted(ALIASES, key=len, reverse=True)) + r")(?![a-z])"
    r"(?:\s*\((\d+(?:\.\d+)?)%\))?"
)
_SKIPPED = ("surrounding", "scene:", "around the")
PIGMENT_COUNT = len(DUNHUANG_PALETTE)


def lost_pigments(text: str) -> np.ndarray:
    """float32 ``[PIGMENT_COUNT]``: the shares of the palette's pigments named for the lost paint in ``text``.

    A name followed by a percentage ("malachite green (45%)") gets that weight, a bare name weight 1; the vector is
    normalised to sum 1, or is all zeros when no pigment is named (no steering: the pixels decide).
    """
    weights = np.zeros(PIGMENT_COUNT, np.float32)
    for sentence in re.split(r"(?<=[.;!?])\s+", text.lower()):
        if any(word in sentence for word in _SKIPPED):
            continue
        for name, percent in _PATTERN.findall(sentence):
            weights[ALIASES[name]] += float(percent) / 100.0 if percent else 1.0
    total = weights.sum()
    return weights / total if total > 0 else weights
