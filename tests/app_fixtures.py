"""A real app server for API and browser tests: tiny review collection, two local logins, temporary database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mural_inpaint.imaging import save_png
from tests.helpers import synthetic_mural

LOGINS = {"alice": "alice-pw", "bob": "bob-pw"}
SYSTEMS = ("muralxgan", "telea", "biharmonic")


def write_collection(folder: Path, count: int = 3) -> Path:
    """``gt/`` + ``mask/`` pairs of synthetic murals, each with a different rectangular hole."""
    for index in range(count):
        mask = np.zeros((64, 80), bool)
        mask[10 + 5 * index:24 + 5 * index, 12:40] = True
        save_png(synthetic_mural(seed=index), folder / "gt" / f"m{index}.png")
        save_png(mask, folder / "mask" / f"m{index}.png")
    return folder


def login_cookie(url: str, name: str) -> str:
    """Sign in through the login form; returns the Cookie header value."""
    import httpx

    response = httpx.post(url + "auth/login", data={"username": name, "password": LOGINS[name]})
    assert response.status_code == 303, response.text
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """(url, context) of a running app; candidates for the collection are computed before tests start."""
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.server import BackgroundServer
    from mural_inpaint.app.settings import AppSettings

    root = tmp_path_factory.mktemp("app")
    settings = AppSettings(db_path=root / "app.db", review_sources=(str(write_collection(root / "murals")),),
                           logins=LOGINS, admins=frozenset({"alice"}), blind_systems=SYSTEMS)
    context = create_context(settings)
    assert context.worker.idle.wait(120), "candidates were not computed in time"
    server = BackgroundServer(context)
    url = server.start()
    yield url, context
    server.stop()
