"""A plain-PyTorch BERT encoder for sentence embeddings: the same numbers as ``transformers.BertModel``, loaded in a
fraction of the time.

Why: importing ``transformers``' BERT costs about 3 s on two cores (its modelling stack pulls in ``torch._dynamo``
and more), which every first restoration of a process paid before the text embedding.  MiniLM is a six-layer BERT;
this module holds just that forward pass (post-norm layers, exact-erf GELU, absolute positions) and reads the
folder's ``config.json``, ``model.safetensors`` and ``tokenizer.json`` (through the light ``tokenizers`` package).
:func:`supports` says whether a folder is such a model; anything else goes through ``transformers``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

MAX_TOKENS = 256


def supports(folder: Path) -> bool:
    """True when ``folder`` holds a BERT this module reproduces exactly (else use ``transformers``)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file())


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attention_out, self.attention_norm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=eps)
        self.intermediate, self.out = nn.Linear(hidden, intermediate), nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape

        def split(t):
            return t.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

        attended = F.scaled_dot_product_attention(split(self.query(x)), split(self.key(x)), split(self.value(x)),
                                                  attn_mask=additive_mask)
        x = self.attention_norm(x + self.attention_out(attended.transpose(1, 2).reshape(batch, length, hidden)))
        return self.out_norm(x + self.out(F.gelu(self.intermediate(x))))


class BertSentenceModel(nn.Module):
    """``forward(input_ids, attention_mask)`` ``[B, T]`` -> last hidden states ``[B, T, hidden]``."""

    def __init__(self, config: dict):
        super().__init__()
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.words = nn.Embedding(config["vocab_size"], hidden)
        self.positions = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_types = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.layers = nn.ModuleList(_Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
                                    for _ in range(config["num_hidden_layers"]))
        self.hidden_size = hidden

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
        x = self.words(input_ids) + self.positions(positions) + self.token_types(torch.zeros_like(input_ids))
        x = self.embedding_norm(x)
        additive = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, additive)
        return x


#: transformers' parameter names -> this module's (per layer ``encoder.layer.N.``)
_LAYER_NAMES = {
    "attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
    "attention.output.dense": "attention_out", "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "intermediate", "output.dense": "out", "output.LayerNorm": "out_norm",
}
_EMBEDDING_NAMES = {"word_embeddings": "words", "position_embeddings": "positions",
                    "token_type_embeddings": "token_types", "LayerNorm": "embedding_norm"}


def _renamed(name: str) -> str | None:
    """This module's name for a checkpoint tensor, None for tensors it does not use (pooler, position ids)."""
    name = name.removeprefix("bert.")
    parts = name.split(".")
    if parts[0] == "embeddings" and parts[1] in _EMBEDDING_NAMES:
        return f"{_EMBEDDING_NAMES[parts[1]]}.{parts[-1]}"
    if parts[:2] == ["encoder", "layer"]:
        inner = ".".join(parts[3:-1])
        if inner in _LAYER_NAMES:
            return f"layers.{parts[2]}.{_LAYER_NAMES[inner]}.{parts[-1]}"
    return None


def load_bert(folder: Path) -> tuple[BertSentenceModel, object]:
    """(model in eval mode, ``tokenizers.Tokenizer`` truncating at :data:`MAX_TOKENS` and padding) from ``folder``."""
    import safetensors.torch
    from tokenizers import Tokenizer

    config = json.loads((folder / "config.json").read_text())
    model = BertSentenceModel(config)
    weights = {}
    for name, tensor in safetensors.torch.load_file(str(folder / "model.safetensors")).items():
        renamed = _renamed(name)
        if renamed is not None:
            weights[renamed] = tensor
    model.load_state_dict(weights, strict=True)
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
    return model.eval(), tokenizer


def mean_pooled(model: BertSentenceModel, tokenizer, texts: list[str], device: str = "cpu") -> torch.Tensor:
    """Unit-length mean-pooled sentence embeddings ``[N, hidden]`` (sentence-transformers' pooling)."""
    encodings = tokenizer.encode_batch(list(texts))
    ids = torch.tensor([e.ids for e in encodings], device=device)
    mask = torch.tensor([e.attention_mask for e in encodings], device=device)
    with torch.inference_mode():
        tokens = model(ids, mask)
    weights = mask.unsqueeze(-1).to(tokens.dtype)
    pooled = (tokens * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
    return F.normalize(pooled, dim=-1).float()

