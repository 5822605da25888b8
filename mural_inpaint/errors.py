"""Errors the package raises on purpose, with messages written for conservators, not programmers."""


class MuralXGANError(Exception):
    """Base class: the message is complete and safe to show to a user as one line."""


class InputError(MuralXGANError, ValueError):
    """The user's image, mask or option cannot be used (wrong format, size, mask, ...)."""


class ModelUnavailableError(MuralXGANError, RuntimeError):
    """A model's weights cannot be found or loaded (offline, missing files, wrong checkpoint)."""
