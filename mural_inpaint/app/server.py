"""Serve the app: FastAPI with the local login routes, the Gradio Blocks mounted at ``/``, run by uvicorn.

Host and port come from ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT`` (what Spaces set), defaulting to
127.0.0.1:7860.  Nothing here calls the network: analytics are off and no update check runs.
"""

from __future__ import annotations

import os
import sys
import threading

from mural_inpaint.app.context import AppContext, create_context
from mural_inpaint.errors import MuralXGANError


def create_server(context: AppContext | None = None):
    """-> (FastAPI app, gradio Blocks, context)."""
    import gradio as gr
    from fastapi import FastAPI

    from mural_inpaint.app import build_app
    from mural_inpaint.app.auth import add_login_routes, user_from_cookie
    from mural_inpaint.app.photo_editor import EDITOR_HEAD
    from mural_inpaint.app.served import CacheJanitor
    from mural_inpaint.app.uploads import max_upload_bytes

    context = context or create_context()
    demo = build_app(context)
    app = FastAPI(title="MuralXGAN")
    settings = context.settings
    local_logins = not settings.on_spaces
    if local_logins:
        add_login_routes(app, settings, context.store)
    app = gr.mount_gradio_app(app, demo, path="/", auth_dependency=user_from_cookie(settings, context.store)
                              if local_logins else None, footer_links=["api", "settings"], ssr_mode=False,
                              max_file_size=max_upload_bytes(),  # larger uploads: HTTP 413 before any handler
                              head=EDITOR_HEAD)  # strokes begun on the margin around the photo still paint
    context.janitor = CacheJanitor(demo).start()  # Gradio's cache and our served copies, bounded in age
    return app, demo, context


def serve(context: AppContext | None = None, host: str | None = None, port: int | None = None) -> None:
    """Run the app until interrupted."""
    import uvicorn

    app, _, context = create_server(context)
    host = host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = port or int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"MuralXGAN running on http://{host}:{port}", flush=True)
    # open event streams must not hold a stop (SIGTERM from Spaces or a script) for ever
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=5))
    threading.Thread(target=_warm_up_when_serving, args=(server,), name="muralxgan-warm-up", daemon=True).start()
    try:
        server.run()
    finally:
        context.close()


def _warm_up_when_serving(server) -> None:
    """Once the page is being served (so loading never delays it), load the default restorer and its encoder."""
    import time

    from mural_inpaint.app.context import warm_up
    from mural_inpaint.pipeline import default_restorer_name

    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        time.sleep(0.5)  # the first page load (and its assets) goes first
        warm_up(default_restorer_name())


def main() -> int:
    """``python app.py``: serve until interrupted; a configuration or database problem found at start (a database
    that cannot be opened, of another schema or of a newer version, a bad setting) is one line on stderr and exit
    code 2, never a traceback."""
    try:
        serve()
    except MuralXGANError as error:
        print(f"muralxgan: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


class BackgroundServer:
    """The app served from a thread (tests, the load script): ``with BackgroundServer(context) as url: ...``."""

    def __init__(self, context: AppContext | None = None, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.app, self.demo, self.context = create_server(context)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host=host, port=port, log_level="warning"))
        self.url = ""

    def start(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, name="muralxgan-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app server did not start")
            time.sleep(0.05)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/"
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.context.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
