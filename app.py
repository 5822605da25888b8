"""MuralXGAN app: `python app.py` (also the Hugging Face Space entry point).

Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT; analytics are off so nothing waits on the network.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from mural_inpaint.app import build_app

demo = build_app()

if __name__ == "__main__":
    demo.launch()
