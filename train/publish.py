"""Publish a trained checkpoint folder to the Hugging Face Hub (safetensors + config + model card)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.models import load_muralxgan


def publish(folder: str | Path, repo_id: str, private: bool = False, branch: str | None = None) -> str:
    """Push ``folder`` (a MuralXGAN checkpoint) to ``repo_id``; returns the commit URL.

    Needs a token (``HF_TOKEN`` or ``hf auth login``) and network; failures raise :class:`ModelUnavailableError`.
    """
    model, _ = load_muralxgan(folder, allow_download=False)
    steps = model.config.training.get("steps", "?")
    try:
        url = model.push_to_hub(repo_id, private=private, branch=branch,
                                commit_message=f"MuralXGAN checkpoint ({steps} steps)")
    except Exception as error:
        reason = " ".join(str(error).split())[:200]
        raise ModelUnavailableError(f"Could not publish {folder} to {repo_id}: {reason}") from None
    return str(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.publish")
    parser.add_argument("folder")
    parser.add_argument("repo_id")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--branch", default=None)
    args = parser.parse_args(argv)
    print(publish(args.folder, args.repo_id, args.private, args.branch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
