"""Captioners: image + mask -> the damage description the text encoder reads.

``describer`` is always available (offline, deterministic).  ``blip2`` prefixes the describer's text with BLIP-2's
scene caption.  ``auto`` (the default) uses BLIP-2 when its weights are configured or cached, the describer
otherwise, and says which in :attr:`Caption.notes`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.registry import Registry
from mural_inpaint.text.blip2 import Blip2Captioner, Blip2Settings
from mural_inpaint.text.describer import DamageDescription, describe_damage


@dataclass
class Caption:
    """``text`` feeds the text encoder; ``captioner`` names who wrote it (shown to reviewers, kept in provenance)."""

    text: str
    captioner: str
    description: DamageDescription
    notes: list[str] = field(default_factory=list)


class Captioner(ABC):
    name: str

    @abstractmethod
    def caption(self, image: np.ndarray, mask: np.ndarray) -> Caption:
        """uint8 ``[H, W, 3]`` damaged image + bool ``[H, W]`` mask (True = damage) -> :class:`Caption`."""


CAPTIONERS: Registry[Captioner] = Registry("captioner")


class DescriberCaptioner(Captioner):
    name = "describer"

    def caption(self, image: np.ndarray, mask: np.ndarray) -> Caption:
        description = describe_damage(image, mask)
        return Caption(description.text, self.name, description)


def join_scene_and_damage(scene: str, damage_text: str) -> str:
    """"a seated buddha" + describer text -> "Scene: a seated buddha. Damage covers ..." (empty scene dropped)."""
    scene = scene.strip(" .")
    return f"Scene: {scene}. {damage_text}" if scene else damage_text


class Blip2JoinedCaptioner(Captioner):
    """BLIP-2's scene caption joined with the describer's damage text; raises if BLIP-2 cannot load."""

    name = "blip2"

    def __init__(self, settings: Blip2Settings | None = None, blip2: Blip2Captioner | None = None):
        self.blip2 = blip2 or Blip2Captioner(settings)

    def caption(self, image: np.ndarray, mask: np.ndarray) -> Caption:
        description = describe_damage(image, mask)
        scene = self.blip2.caption(image)
        return Caption(join_scene_and_damage(scene, description.text), f"describer+blip2:{self.blip2.source}",
                       description)


class AutoCaptioner(Captioner):
    """BLIP-2 + describer when BLIP-2 loads, else the describer alone with a note saying why."""

    name = "auto"

    def __init__(self, settings: Blip2Settings | None = None):
        self.joined = Blip2JoinedCaptioner(settings or Blip2Settings.from_environment())
        self._blip2_error: str | None = None

    def caption(self, image: np.ndarray, mask: np.ndarray) -> Caption:
        if self._blip2_error is None:
            try:
                self.joined.blip2.load()
                return self.joined.caption(image, mask)
            except ModelUnavailableError as error:
                self._blip2_error = str(error)  # remembered: do not retry the Hub on every request
        result = DescriberCaptioner().caption(image, mask)
        result.notes.append(f"BLIP-2 not used: {self._blip2_error}")
        return result


CAPTIONERS.register("describer", "mask- and pigment-aware damage describer (offline)")(DescriberCaptioner)
CAPTIONERS.register("blip2", "BLIP-2 scene caption joined with the describer (needs BLIP-2 weights)")(
    Blip2JoinedCaptioner
)
CAPTIONERS.register("auto", "BLIP-2 + describer when BLIP-2 weights exist, else the describer")(AutoCaptioner)
