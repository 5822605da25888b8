"""MuralXGAN app: `python app.py` (also the Hugging Face Space entry point).

Configuration: environment variables (README, "Configuration"); host and port from GRADIO_SERVER_NAME /
GRADIO_SERVER_PORT.  Analytics and telemetry are off, so nothing waits on the network.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

if __name__ == "__main__":
    from mural_inpaint.app.server import main

    raise SystemExit(main())
