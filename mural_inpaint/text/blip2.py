"""BLIP-2 image captioning through transformers, asked about the scene and its damage.

Weights: a local folder or a Hub id (+ revision), looked up in the Hugging Face cache first.  transformers is
imported on first use only.  BLIP-2 is large (several GB); on machines without it, the describer alone captions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.hub import resolve_model_dir

DEFAULT_BLIP2 = "Salesforce/blip2-opt-2.7b"
DAMAGE_PROMPT = "Question: What does this damaged mural painting show, and where is its paint lost? Answer:"


@dataclass(frozen=True)
class Blip2Settings:
    """``model``: Hub id or folder; ``allow_download``: fetch from the Hub when not cached (slow, several GB)."""

    model: str = DEFAULT_BLIP2
    revision: str | None = None
    prompt: str = DAMAGE_PROMPT
    max_new_tokens: int = 40
    allow_download: bool = False

    @classmethod
    def from_environment(cls) -> Blip2Settings:
        """``MURALXGAN_BLIP2`` (id or folder) and ``MURALXGAN_BLIP2_REVISION``; naming a model allows downloading."""
        model = os.environ.get("MURALXGAN_BLIP2", "").strip()
        return cls(model=model or DEFAULT_BLIP2, revision=os.environ.get("MURALXGAN_BLIP2_REVISION") or None,
                   allow_download=bool(model))


class Blip2Captioner:
    """Loads BLIP-2 lazily; :meth:`caption` returns one cleaned sentence."""

    def __init__(self, settings: Blip2Settings | None = None):
        self.settings = settings or Blip2Settings()
        self._loaded = None
        self.source = self.settings.model

    def load(self) -> None:
        if self._loaded is not None:
            return
        resolved = resolve_model_dir(self.settings.model, revision=self.settings.revision, what="BLIP-2 captioner",
                                     allow_download=self.settings.allow_download)
        try:
            from transformers import Blip2ForConditionalGeneration, Blip2Processor

            processor = Blip2Processor.from_pretrained(resolved.path)
            model = Blip2ForConditionalGeneration.from_pretrained(resolved.path).eval()
        except Exception as error:
            raise ModelUnavailableError(f"BLIP-2 in {resolved.path} could not be loaded ({error}).") from None
        self.source = f"{resolved.source}" + (f"@{resolved.revision}" if resolved.revision else "")
        self._loaded = (processor, model)

    def caption(self, image: np.ndarray) -> str:
        """uint8 ``[H, W, 3]`` -> BLIP-2's answer to the damage prompt (may be empty for an untrained model)."""
        import torch
        from PIL import Image

        self.load()
        processor, model = self._loaded
        inputs = processor(images=Image.fromarray(image), text=self.settings.prompt, return_tensors="pt")
        with torch.inference_mode():
            generated = model.generate(**inputs, max_new_tokens=self.settings.max_new_tokens, do_sample=False)
        prompt_length = inputs["input_ids"].shape[1]
        if generated.shape[1] > prompt_length and torch.equal(generated[0, :prompt_length], inputs["input_ids"][0]):
            generated = generated[:, prompt_length:]  # decoder-only models echo the prompt
        text = processor.batch_decode(generated, skip_special_tokens=True)[0]
        return " ".join(text.replace(self.settings.prompt, "").split()).strip(" .")
