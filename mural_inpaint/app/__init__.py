"""The Gradio app (one module per tab).  Import :func:`build_app`; gradio is imported only when it is called."""

from __future__ import annotations


def build_app():
    """Return the ``gradio.Blocks`` of the whole app (not launched)."""
    import gradio as gr

    from mural_inpaint.app.restore_tab import build_restore_tab

    with gr.Blocks(title="MuralXGAN: mural restoration") as demo:
        gr.Markdown("# MuralXGAN\nText-guided restoration of damaged Dunhuang murals. "
                    "Known paint is never altered: only the pixels you mark as damaged are filled.")
        with gr.Tab("Restore"):
            build_restore_tab()
    return demo
