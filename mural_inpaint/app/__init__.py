"""The Gradio app (one module per tab, UI-free logic beside each).

:func:`build_app` returns the Blocks; :mod:`mural_inpaint.app.server` mounts it with the login routes and serves it.
gradio is imported only when these are called.
"""


def build_app(context=None):
    """Return the ``gradio.Blocks`` of the whole app (not launched); ``context`` defaults to one built from the
    environment (see :mod:`mural_inpaint.app.settings`)."""
    import gradio as gr

    from mural_inpaint.app.auth import current_user
    from mural_inpaint.app.blind_tab import build_blind_tab
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.feedback import header
    from mural_inpaint.app.leaderboard_tab import build_leaderboard_tab
    from mural_inpaint.app.restore_tab import build_restore_tab
    from mural_inpaint.app.review_tab import build_review_tab
    from mural_inpaint.app.served import delete_cache_setting

    context = context or create_context()
    settings = context.settings

    def who(request: gr.Request, profile: gr.OAuthProfile | None = None) -> str:
        return header(context, current_user(request, profile))

    # Gradio's copies of what it sent (and of uploads) are deleted once older than MURALXGAN_CACHE_MINUTES
    with gr.Blocks(title="MuralXGAN: mural restoration", delete_cache=delete_cache_setting()) as demo:
        with gr.Row():
            gr.Markdown("# MuralXGAN\nText-guided restoration of damaged Dunhuang murals. Known paint is never "
                        "altered: only the pixels you mark as damaged are filled.")
            with gr.Column(scale=0, min_width=260):
                if settings.on_spaces:
                    gr.LoginButton()
                identity = gr.Markdown()
        with gr.Tab("Restore"):
            build_restore_tab(context)
        tabs = []
        for title, build in (("Caption review", build_review_tab), ("Blind A/B", build_blind_tab),
                             ("Leaderboard", build_leaderboard_tab)):
            with gr.Tab(title) as tab:
                tabs.append((tab, build(context)))
        demo.load(who, None, identity, api_name=False)
        for tab, (load, inputs, outputs) in tabs:
            tab.select(load, inputs, outputs, api_name=False)  # opening a tab shows its current state
    demo.muralxgan_context = context
    return demo
