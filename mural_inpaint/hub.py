"""Finding model files: a local folder, the Hugging Face cache, or the Hub (with a revision), never a crash.

Order: an existing local folder is used as is; a Hub repo id is looked up in the local cache first (works with
``HF_HUB_OFFLINE=1`` and on machines without network), and downloaded only when that fails and downloading is
allowed.  Every failure becomes a :class:`~mural_inpaint.errors.ModelUnavailableError` that says what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mural_inpaint.errors import ModelUnavailableError


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are on disk and which exact version they are (for provenance)."""

    path: Path
    source: str  # the id or folder the user asked for
    revision: str | None  # resolved commit hash for Hub models, None for local folders


def looks_like_path(identifier: str) -> bool:
    """True for strings that can only be folders (Hub ids are ``name`` or ``org/name``)."""
    return (
        identifier.startswith(("/", "./", "../", "~", "."))
        or identifier.count("/") > 1
        or "\\" in identifier
        or (len(identifier) > 1 and identifier[1] == ":")
    )


def resolve_model_dir(
    identifier: str | os.PathLike,
    *,
    revision: str | None = None,
    what: str = "model",
    allow_download: bool = True,
    allow_patterns: list[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> ResolvedModel:
    """Local folder or Hub repo id (+ revision) -> :class:`ResolvedModel` with every file on local disk."""
    text = str(identifier)
    path = Path(text).expanduser()
    if path.is_dir():
        return ResolvedModel(path.resolve(), text, None)
    if looks_like_path(text) or Path(text).exists():
        raise ModelUnavailableError(f"The {what} folder {text} does not exist (or is a file, not a folder).")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    options = dict(repo_id=text, revision=revision, allow_patterns=allow_patterns, cache_dir=cache_dir)
    try:
        local = snapshot_download(local_files_only=True, **options)
        return ResolvedModel(Path(local), text, Path(local).name)
    except HFValidationError:
        raise ModelUnavailableError(f"{text!r} is neither an existing folder nor a valid Hub repo id for the {what}.") \
            from None
    except Exception as cached_error:  # not in the cache (any version of huggingface_hub phrases this differently)
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        where = f"{text}" + (f" (revision {revision})" if revision else "")
        if offline or not allow_download:
            reason = "HF_HUB_OFFLINE is set" if offline else "downloading is switched off"
            raise ModelUnavailableError(
                f"The {what} {where} is not in the local Hugging Face cache and {reason}; download it once with "
                f"`hf download {text}` on a machine with network, or point to a local folder."
            ) from cached_error
    try:
        local = snapshot_download(**options)
    except Exception as error:
        raise ModelUnavailableError(
            f"The {what} {where} is not a local folder and could not be downloaded from the Hugging Face Hub "
            f"({_short(error)}); check the path or id, the revision and the network."
        ) from None
    return ResolvedModel(Path(local), text, Path(local).name)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(error).__name__)
