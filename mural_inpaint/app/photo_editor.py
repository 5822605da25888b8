"""The Restore tab's photo editor: Gradio's ImageEditor in the browser, but its value reaches the handler undecoded.

Gradio's own ``ImageEditor.preprocess`` opens every upload with PIL and converts it (``im.convert(image_mode)``)
before the handler runs: 16-bit greyscale clips to white, EXIF orientation is ignored (the mask lands on the wrong
pixels), a file declaring 177 megapixels is decoded in full (seconds and gigabytes) before anything can refuse it,
and a non-image fails with Gradio's error and a server path.  :func:`photo_editor` hands over the uploaded files
themselves (paths, or bytes from the editor's blob route) so that :mod:`mural_inpaint.app.uploads` reads them with
the command line's loader.

(An ``ImageEditor`` instance with its ``preprocess`` replaced, not a subclass: Gradio writes a ``.pyi`` stub beside
the module of every component class, which an installed package must not do.)
"""

from __future__ import annotations

import types

import gradio as gr
from gradio.components.image_editor import EditorData, EditorDataBlobs
from gradio.data_classes import FileData


def _raw(file: FileData | bytes | None) -> str | bytes | None:
    if file is None:
        return None
    return file.path if isinstance(file, FileData) else bytes(file)


def undecoded_value(editor: gr.ImageEditor, payload: EditorData | None) -> dict | None:
    """``{"background": path | bytes | None, "layers": [path | bytes], "composite": None}``: nothing decoded (the
    composite, which the handlers never use, is not even kept)."""
    if payload is None:
        return None
    files: EditorData | EditorDataBlobs | None = payload
    if payload.id is not None:
        files = editor.blob_storage.pop(payload.id, None)
        if files is None:
            return None
    return {"background": _raw(files.background),
            "layers": [raw for raw in (_raw(layer) for layer in files.layers or []) if raw is not None],
            "composite": None}


def photo_editor(**kwargs) -> gr.ImageEditor:
    """A ``gr.ImageEditor`` (same browser side, same arguments) whose handlers receive the uploaded files."""
    editor = gr.ImageEditor(**kwargs)
    editor.preprocess = types.MethodType(undecoded_value, editor)
    return editor
