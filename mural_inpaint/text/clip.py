"""CLIP through open_clip: the research design's text encoder, and the image-text model behind CLIP Score.

``model`` may be an open_clip architecture name (``ViT-B-32``) with ``pretrained`` a tag (``laion2b_s34b_b79k``,
looked up in the Hugging Face cache first, downloaded only when possible) or a weights file; a local folder holding
``open_clip_config.json`` + weights (also written ``local-dir:/path``); or ``hf-hub:org/repo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.hub import resolve_model_dir
from mural_inpaint.text.encoders import TEXT_ENCODERS, TextEncoder, TextEncoderSpec

DEFAULT_CLIP = TextEncoderSpec(name="clip", model="ViT-B-32", pretrained="laion2b_s34b_b79k", dim=512)
_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin", "open_clip_model.bin")


@dataclass
class LoadedClip:
    model: Any  # open_clip.model.CLIP, eval mode
    preprocess: Any  # PIL image -> [3, S, S] tensor
    tokenizer: Any  # list[str] -> [N, context] token ids
    source: str


def _weights_in(folder: Path) -> Path:
    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise ModelUnavailableError(f"No open_clip weights ({', '.join(_WEIGHT_FILES)}) in {folder}.")


def _open_clip_arguments(spec: TextEncoderSpec) -> tuple[str, str | None, str]:
    """(model_name, pretrained, human source) for ``open_clip.create_model_and_transforms``."""
    import open_clip

    model = spec.model
    if model.startswith("local-dir:") or Path(model).expanduser().is_dir():
        folder = Path(model.removeprefix("local-dir:")).expanduser()
        if not (folder / "open_clip_config.json").is_file():
            raise ModelUnavailableError(f"The CLIP folder {folder} has no open_clip_config.json.")
        return f"local-dir:{folder}", None, str(folder)
    if model.startswith("hf-hub:"):
        resolved = resolve_model_dir(model.removeprefix("hf-hub:"), revision=spec.revision, what="CLIP model")
        return f"local-dir:{resolved.path}", None, f"{resolved.source}@{resolved.revision}"
    if spec.pretrained and Path(spec.pretrained).expanduser().is_file():
        return model, str(Path(spec.pretrained).expanduser()), spec.pretrained
    if model.replace("/", "-") not in open_clip.list_models():
        raise ModelUnavailableError(f"Unknown open_clip architecture {model!r}.")
    if not spec.pretrained:
        raise ModelUnavailableError(f"No pretrained weights named for CLIP {model}; CLIP without weights is noise.")
    tag_cfg = open_clip.get_pretrained_cfg(model, spec.pretrained) or {}
    if not tag_cfg:
        raise ModelUnavailableError(f"open_clip knows no pretrained tag {spec.pretrained!r} for {model}.")
    if tag_cfg.get("hf_hub"):
        repo = tag_cfg["hf_hub"].strip("/")
        resolved = resolve_model_dir(repo, revision=spec.revision, what=f"CLIP {model} ({spec.pretrained}) weights",
                                     allow_patterns=list(_WEIGHT_FILES))
        return model, str(_weights_in(resolved.path)), f"{repo}@{resolved.revision}"
    return model, spec.pretrained, f"{model} {spec.pretrained} (open_clip download)"


_FAILURES: dict[TextEncoderSpec, str] = {}


def load_clip(spec: TextEncoderSpec = DEFAULT_CLIP) -> LoadedClip:
    """Load an open_clip model once per process; raises :class:`ModelUnavailableError` with the reason.

    A failure is remembered too, so callers in a loop (CLIP Score per image) do not retry the Hub every time.
    """
    if spec in _FAILURES:
        raise ModelUnavailableError(_FAILURES[spec])
    try:
        return _load_clip(spec)
    except ModelUnavailableError as error:
        _FAILURES[spec] = str(error)
        raise


@lru_cache(maxsize=2)
def _load_clip(spec: TextEncoderSpec) -> LoadedClip:
    import open_clip

    name, pretrained, source = _open_clip_arguments(spec)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained)
        tokenizer = open_clip.get_tokenizer(name)
    except ModelUnavailableError:
        raise
    except Exception as error:
        reason = " ".join(str(error).split())[:200]
        raise ModelUnavailableError(f"CLIP {spec.label()} could not be loaded ({reason}).") from None
    return LoadedClip(model.eval(), preprocess, tokenizer, source)


class ClipTextEncoder(TextEncoder):
    def __init__(self, spec: TextEncoderSpec):
        import torch

        self.clip = load_clip(spec)
        with torch.inference_mode():
            dim = int(self.clip.model.encode_text(self.clip.tokenizer(["a mural"])).shape[-1])
        self.spec = TextEncoderSpec(spec.name, spec.model, spec.pretrained, spec.revision, dim)
        self._torch = torch

    def to(self, device) -> ClipTextEncoder:
        self.clip.model.to(device)
        return super().to(device)

    def encode(self, texts: list[str]):
        torch = self._torch
        with torch.inference_mode():
            features = self.clip.model.encode_text(self.clip.tokenizer(list(texts)).to(self.device))
        return torch.nn.functional.normalize(features.float(), dim=-1)


@TEXT_ENCODERS.register("clip", "CLIP text tower via open_clip (needs CLIP weights)")
def _build(spec: TextEncoderSpec | None = None) -> ClipTextEncoder:
    return ClipTextEncoder(spec or DEFAULT_CLIP)
