"""Bounded storage (issue 14, point 5): Gradio's cache and the app's own served copies and downloads are deleted once
older than the cache time, under load too; and the kill -9 figures script keeps every acknowledged vote."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from tests.app_fixtures import write_collection


def _cached_files(folder: Path, count: int, kept: set) -> set[str]:
    files = set()
    for index in range(count):
        path = folder / f"hash{index:03d}" / "shown.png"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"png")
        files.add(str(path))
    kept.add(str(folder / "hash000" / "shown.png"))
    return files


def test_the_cache_cleaner_keeps_going_while_handlers_add_files(tmp_path):
    from mural_inpaint.app.served import clean_gradio_cache

    kept: set = set()
    live = _cached_files(tmp_path, 40, kept)
    blocks = SimpleNamespace(blocks={1: SimpleNamespace(keep_in_cache=kept)}, GRADIO_CACHE=str(tmp_path),
                             temp_file_sets=[live])
    assert clean_gradio_cache(blocks, age_s=3600) == 0  # nothing old enough yet
    stop = threading.Event()

    def handlers_adding_files():  # what Gradio's postprocess does while the cleaner runs
        for index in range(20_000):
            if stop.is_set():
                break
            live.add(str(tmp_path / f"new{index}.png"))  # (never written: the cleaner forgets them)
            if index % 100 == 0:
                time.sleep(0)

    adder = threading.Thread(target=handlers_adding_files)
    adder.start()
    try:
        removed = sum(clean_gradio_cache(blocks, age_s=60, now=time.time() + 120) for _ in range(50))
    finally:
        stop.set()
        adder.join()
    assert removed == 39 and sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["hash000"]
    assert str(tmp_path / "hash000" / "shown.png") in live  # what a component keeps stays


def test_the_served_app_deletes_what_it_sent_once_the_cache_time_has_passed(tmp_path, monkeypatch):
    from gradio_client import Client

    from mural_inpaint.app import served
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.server import BackgroundServer
    from mural_inpaint.app.settings import AppSettings

    monkeypatch.setenv("MURALXGAN_CACHE_MINUTES", str(2 / 60))  # 2 s
    logins = {"ana": "ana-pw", "ben": "ben-pw", "cy": "cy-pw"}
    settings = AppSettings(db_path=tmp_path / "s.db", logins=logins, blind_systems=("telea", "biharmonic"),
                           review_sources=(str(write_collection(tmp_path / "murals", count=10)),))  # 10 pairs each
    context = create_context(settings)
    assert context.worker.idle.wait(120)
    server = BackgroundServer(context)
    url = server.start()
    sent, errors = [], []

    def rater(name: str) -> None:  # raters at once: Gradio's own cleaner dies of this ("Set changed size")
        try:
            cookie = httpx.post(url + "auth/login", data={"username": name, "password": logins[name]}).cookies
            client = Client(url, verbose=False, download_files=False,
                            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())})
            end = time.monotonic() + 8
            while time.monotonic() < end:
                shown = client.predict(api_name="/blind_next")
                if not shown[0]:  # every restoration seen (each is shown to a rater once)
                    break
                sent.extend(Path(image["path"]) for image in shown[:3])
                client.predict("-", "-", "", api_name="/blind_vote_tie")
        except Exception as error:
            errors.append(error)

    try:
        assert server.demo.delete_cache == (1, 2)
        raters = [threading.Thread(target=rater, args=(name,)) for name in logins]
        for thread in raters:
            thread.start()
        for thread in raters:
            thread.join()
        assert not errors and sent
        cached = {Path(f) for s in server.demo.temp_file_sets for f in list(s)}
        served._last_prune = 0.0
        deadline = time.monotonic() + 30
        while any(path.exists() for path in cached) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert cached and not any(path.exists() for path in cached), "Gradio's copies were not deleted"
        served.prune_served()
        assert not any(path.exists() for path in sent)  # our own served copies too
    finally:
        server.stop()


@pytest.mark.slow  # about 60 s: python app.py started three times, killed twice
def test_kill_9_during_vote_bursts_loses_no_acknowledged_vote(tmp_path):
    from scripts.kill9_votes import run

    report = run(raters=3, rounds=2, burst_seconds=3, murals=2, root=tmp_path)
    assert report["votes_acknowledged"] > 0 and report["acknowledged_votes_lost"] == 0, report
    assert report["integrity_check"] == "ok" and report["duplicate_votes"] == 0
    assert report["votes_after_last_restart"] > 0
