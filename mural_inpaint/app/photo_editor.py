"""The Restore tab's photo editor: Gradio's ImageEditor in the browser, but its value reaches the handler undecoded.

Gradio's own ``ImageEditor.preprocess`` opens every upload with PIL and converts it (``im.convert(image_mode)``)
before the handler runs: 16-bit greyscale clips to white, EXIF orientation is ignored (the mask lands on the wrong
pixels), a file declaring 177 megapixels is decoded in full (seconds and gigabytes) before anything can refuse it,
and a non-image fails with Gradio's error and a server path.  :func:`photo_editor` hands over the uploaded files
themselves (paths, or bytes from the editor's blob route) so that :mod:`mural_inpaint.app.uploads` reads them with
the command line's loader.

(An ``ImageEditor`` instance with its ``preprocess`` replaced, not a subclass: Gradio writes a ``.pyi`` stub beside
the module of every component class, which an installed package must not do.)

The uploaded file's name: the editor renames every upload ``background.png`` in the browser, so
:data:`EDITOR_HEAD` remembers the name of the file chosen or dropped on the editor (``#muralxgan-photo``) and the
Restore tab copies it into its name field on upload; API clients' own file names travel with the value (``"name"``).

Strokes from the margin: Gradio's brush (6.31) starts a stroke only when the pointer goes down over the photo
(``on_pointer_down`` returns unless ``brush_cursor.is_over_image()``), so a stroke begun on the grey margin around
the photo drew nothing at all, even where it crossed the photo: no pixel ever reached the server.
:data:`EDITOR_HEAD` (a script in the page's ``<head>``, served by :mod:`mural_inpaint.app.server`) starts such a
stroke where it enters the photo: it hooks PixiJS's ``__PIXI_APP_INIT__`` to reach the editor's canvas and, when a
held pointer first crosses onto the photo, sends the canvas a pointer-down at the crossing point on the photo's edge
and a move to where the pointer is.
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


def _name(file: FileData | bytes | None) -> str | None:
    return file.orig_name if isinstance(file, FileData) else None


def undecoded_value(editor: gr.ImageEditor, payload: EditorData | None) -> dict | None:
    """``{"background": path | bytes | None, "layers": [path | bytes], "composite": None, "name": str | None}``:
    nothing decoded (the composite, which the handlers never use, is not even kept); ``name`` is the uploaded
    photo's file name when the browser sent one."""
    if payload is None:
        return None
    files: EditorData | EditorDataBlobs | None = payload
    if payload.id is not None:
        files = editor.blob_storage.pop(payload.id, None)
        if files is None:
            return None
    return {"background": _raw(files.background),
            "layers": [raw for raw in (_raw(layer) for layer in files.layers or []) if raw is not None],
            "composite": None, "name": _name(files.background)}


def photo_editor(**kwargs) -> gr.ImageEditor:
    """A ``gr.ImageEditor`` (same browser side, same arguments) whose handlers receive the uploaded files."""
    editor = gr.ImageEditor(**kwargs)
    editor.preprocess = types.MethodType(undecoded_value, editor)
    return editor


EDITOR_HEAD = """<script>
/* MuralXGAN (see mural_inpaint/app/photo_editor.py): the uploaded photo's file name, and brush strokes that start
   on the margin around the photo (Gradio's brush ignores a pointer that goes down outside the photo). */
(() => {
  /* The editor renames every upload "background.png": keep the file's own name for the mural name field. */
  const remember = (files) => { if (files && files.length) globalThis.__muralxganPhotoName = files[0].name; };
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (input instanceof HTMLInputElement && input.type === "file" && input.closest("#muralxgan-photo")) {
      remember(input.files);
    }
  }, true);
  document.addEventListener("drop", (event) => {
    if (event.target instanceof Element && event.target.closest("#muralxgan-photo")) {
      remember(event.dataTransfer && event.dataTransfer.files);
    }
  }, true);
  /* Painting again before the description was asked for: wait for this stroke too (the Restore tab's
     editor.change restarts the timer when the stroke ends). */
  document.addEventListener("pointerdown", (event) => {
    if (event.target instanceof Element && event.target.closest("#muralxgan-photo")) {
      clearTimeout(globalThis.__muralxganFollow);
    }
  }, true);
  const earlier = globalThis.__PIXI_APP_INIT__;
  globalThis.__PIXI_APP_INIT__ = function (app, version) {
    if (earlier) earlier.call(this, app, version);
    const canvas = app.canvas;
    let held = null;  // client position of a pointer held down outside the photo since it went down
    const photo = () => app.stage && app.stage.children.find((child) => child.sortableChildren);
    const over = (x, y) => {
      const container = photo();
      if (!container || !app.renderer || !app.renderer.events) return false;
      const point = {x: 0, y: 0};
      app.renderer.events.mapPositionToPoint(point, x, y);
      const bounds = container.getBounds();
      return bounds.width > 0 && point.x >= bounds.x && point.x <= bounds.x + bounds.width &&
             point.y >= bounds.y && point.y <= bounds.y + bounds.height;
    };
    canvas.addEventListener("pointerdown", (event) => {
      held = event.isTrusted && event.button === 0 && !over(event.clientX, event.clientY)
        ? {x: event.clientX, y: event.clientY} : null;
    }, true);
    window.addEventListener("pointerup", () => { held = null; });
    window.addEventListener("pointermove", (event) => {  // after PixiJS has seen the move (it listens in capture)
      if (!held || !event.isTrusted) return;
      if (!(event.buttons & 1)) { held = null; return; }
      if (!over(event.clientX, event.clientY)) { held = {x: event.clientX, y: event.clientY}; return; }
      let outside = 0, inside = 1;  // the crossing point on the segment from the last outside position
      const at = (t) => [held.x + t * (event.clientX - held.x), held.y + t * (event.clientY - held.y)];
      for (let step = 0; step < 16; step++) {
        const middle = (outside + inside) / 2;
        if (over(...at(middle))) inside = middle; else outside = middle;
      }
      const [x, y] = at(inside);
      held = null;
      const pointer = {bubbles: true, cancelable: true, composed: true, pointerId: event.pointerId,
                       pointerType: event.pointerType, isPrimary: event.isPrimary, buttons: 1};
      canvas.dispatchEvent(new PointerEvent("pointerdown", {...pointer, button: 0, clientX: x, clientY: y}));
      canvas.dispatchEvent(new PointerEvent("pointermove", {...pointer, button: -1, clientX: event.clientX,
                                                            clientY: event.clientY}));
    });
  };
})();
</script>"""
