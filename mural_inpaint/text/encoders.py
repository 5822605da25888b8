"""Text encoders behind one interface: a list of captions -> a fixed-size, L2-normalised embedding.

Built-ins (one small module each): ``minilm`` (all-MiniLM-L6-v2, offline-capable) and ``clip`` (open_clip).
A checkpoint stores the :class:`TextEncoderSpec` it was trained with; :func:`check_compatible` turns a mismatch into
a clear error instead of silently feeding the generator the wrong embedding space.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.registry import Registry

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TextEncoderSpec:
    """Which text encoder, exactly.

    ``name`` is the registry name; ``model`` a Hub id, local folder, or (for ``clip``) an open_clip architecture
    name or ``local-dir:``/``hf-hub:`` identifier; ``pretrained`` an open_clip tag or weights file; ``dim`` the
    embedding size (0 = unknown until loaded), the pigment vector included; ``pigment_words``: the sentence
    embedding is followed by the palette pigments named for the lost paint
    (:func:`mural_inpaint.text.pigment_words.lost_pigments`).
    """

    name: str = "minilm"
    model: str = "sentence-transformers/all-MiniLM-L6-v2"
    pretrained: str | None = None
    revision: str | None = None
    dim: int = 384
    pigment_words: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TextEncoderSpec:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def label(self) -> str:
        extra = f" ({self.pretrained})" if self.pretrained else ""
        return f"{self.name}: {self.model}{extra}" + (" + pigment words" if self.pigment_words else "")

    def sentence_spec(self) -> TextEncoderSpec:
        """The spec of the sentence encoder alone (without the pigment vector)."""
        if not self.pigment_words:
            return self
        from mural_inpaint.text.pigment_words import PIGMENT_COUNT

        return replace(self, pigment_words=False, dim=self.dim - PIGMENT_COUNT if self.dim else 0)


class TextEncoder(ABC):
    """Encodes captions; ``encode`` returns float32 ``[N, dim]`` on :attr:`device`: each sentence embedding of unit
    length (followed, with ``pigment_words``, by the named pigments' shares)."""

    spec: TextEncoderSpec
    device: str = "cpu"

    def to(self, device) -> TextEncoder:
        """Move the encoder's weights to ``device`` (training on a GPU encodes every batch); returns ``self``."""
        self.device = str(device)
        return self

    @property
    def dim(self) -> int:
        return self.spec.dim

    @abstractmethod
    def encode(self, texts: list[str]) -> torch.Tensor: ...


TEXT_ENCODERS: Registry[TextEncoder] = Registry(
    "text encoder", modules=("mural_inpaint.text.minilm", "mural_inpaint.text.clip")
)


class PigmentAwareEncoder(TextEncoder):
    """A sentence encoder's embedding followed by the pigments a caption names for the lost paint ``[N, D + P]``."""

    def __init__(self, sentences: TextEncoder, spec: TextEncoderSpec):
        self.sentences, self.spec = sentences, spec

    def to(self, device) -> PigmentAwareEncoder:
        self.sentences.to(device)
        self.device = str(device)
        return self

    def encode(self, texts: list[str]) -> torch.Tensor:
        import numpy as np
        import torch

        from mural_inpaint.text.pigment_words import lost_pigments

        embedded = self.sentences.encode(texts)
        pigments = torch.from_numpy(np.stack([lost_pigments(text) for text in texts])).to(embedded)
        return torch.cat([embedded, pigments], dim=1)


@lru_cache(maxsize=4)
def get_text_encoder(spec: TextEncoderSpec) -> TextEncoder:
    """Build (once per process) the encoder described by ``spec``; raises :class:`ModelUnavailableError`."""
    if spec.pigment_words:
        return PigmentAwareEncoder(get_text_encoder(spec.sentence_spec()), spec)
    return TEXT_ENCODERS.create(spec.name, spec=spec)


def check_compatible(trained_with: TextEncoderSpec, requested: TextEncoderSpec) -> None:
    """Raise :class:`ModelUnavailableError` unless ``requested`` produces the embeddings a checkpoint expects."""
    same = (trained_with.name, trained_with.model, trained_with.pretrained, trained_with.dim,
            trained_with.pigment_words) == (
        requested.name,
        requested.model,
        requested.pretrained,
        requested.dim,
        requested.pigment_words,
    )
    if not same:
        raise ModelUnavailableError(
            f"This checkpoint was trained with the text encoder '{trained_with.label()}' ({trained_with.dim}-d) but "
            f"'{requested.label()}' ({requested.dim}-d) was requested; use the checkpoint's own encoder or retrain."
        )
