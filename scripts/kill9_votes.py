"""Kill the server with SIGKILL in the middle of vote bursts, restart it, and count acknowledged votes lost.

    python scripts/kill9_votes.py [--raters 6] [--rounds 3] [--burst-seconds 4] [--out outputs/kill9]

Starts ``python app.py`` in its own process on a temporary database (generated logins, synthetic murals, classical
systems), lets ``--raters`` signed-in raters ask for pairs and vote as fast as they can, and ``kill -9``s the server
``--burst-seconds`` into the burst, ``--rounds`` times, restarting it on the same database each time.  Every vote
carries a unique comment; a vote is *acknowledged* when the server answered it with its reveal.  After the last
restart, every acknowledged comment must be in the database (lost = acknowledged and absent), the database must pass
``PRAGMA integrity_check``, and voting must go on (the raters' open pairs are still theirs; two raters who have not
voted yet take part too, as a rater is shown each restoration once and the others may have seen them all).  Votes
stored whose answer never reached the rater (the kill came between the commit and the reply) are counted too; they
are not lost.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = "telea,navier-stokes"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


LATE_RATERS = 2  # who sign in only after the last restart


def prepare(root: Path, raters: int, murals: int) -> dict[str, str]:
    """Synthetic murals (gt/ + mask/) and a logins file under ``root`` (``raters`` + :data:`LATE_RATERS` logins);
    returns {name: password}."""
    sys.path.insert(0, str(ROOT))
    from mural_inpaint.imaging import save_png

    for index in range(murals):
        yy, xx = np.mgrid[0:96, 0:96]
        picture = np.stack([128 + 90 * np.sin(xx / (7 + index)), 120 + 80 * np.cos(yy / 5),
                            110 + 60 * np.sin((xx + yy) / (9 + index))], axis=-1).astype(np.uint8)
        mask = np.zeros((96, 96), bool)
        mask[20 + 4 * index:44 + 4 * index, 30:60] = True
        save_png(picture, root / "murals" / "gt" / f"m{index}.png")
        save_png(mask, root / "murals" / "mask" / f"m{index}.png")
    logins = {f"rater{i:02d}": f"pw-{i}" for i in range(raters + LATE_RATERS)}
    (root / "logins.txt").write_text("".join(f"{n}:{p}\n" for n, p in logins.items()))
    return logins


class App:
    """``python app.py`` on the study's database, started and killed by this script."""

    def __init__(self, root: Path, murals: int):
        self.root, self.murals, self.db = root, murals, root / "study.db"
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 300) -> str:
        import httpx

        port = _free_port()
        env = os.environ | {"MURALXGAN_DB": str(self.db), "MURALXGAN_REVIEW_DATA": str(self.root / "murals"),
                            "MURALXGAN_BLIND_SYSTEMS": SYSTEMS, "MURALXGAN_LOGINS_FILE": str(self.root / "logins.txt"),
                            "MURALXGAN_SECRET": "kill9", "MURALXGAN_SKIP_LIMIT": "0",
                            "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                            "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        with open(self.root / "app.log", "ab") as log:  # (the child keeps its own copy of the handle)
            self.process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=self.root,
                                            stdout=subprocess.DEVNULL, stderr=log)
        self.url = f"http://127.0.0.1:{port}/"
        wanted = self.murals * len(SYSTEMS.split(","))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.process.returncode}: see {self.root}/app.log")
            try:
                up = httpx.get(self.url, timeout=5).status_code == 200
                with sqlite3.connect(self.db, timeout=30) as probe:
                    ready = up and probe.execute("SELECT COUNT(*) FROM candidates").fetchone()[0] >= wanted
            except (httpx.HTTPError, sqlite3.Error):
                ready = False
            if ready:
                return self.url
            time.sleep(0.5)
        raise RuntimeError("the app was not ready in time")

    def kill9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def _client(url: str, name: str, password: str):
    import httpx
    from gradio_client import Client

    response = httpx.post(url + "auth/login", data={"username": name, "password": password}, timeout=30)
    if response.status_code != 303:
        raise RuntimeError(f"cannot sign in as {name}: HTTP {response.status_code}")
    cookie = "; ".join(f"{k}={v}" for k, v in response.cookies.items())
    return Client(url, verbose=False, download_files=False, headers={"Cookie": cookie})


def burst(url: str, logins: dict[str, str], round_: int, stop: threading.Event, acknowledged: list, sent: list,
          lock: threading.Lock) -> None:
    """Every rater asks for a pair and votes until ``stop``; acknowledged comments go to ``acknowledged``."""

    def rater(name: str, password: str) -> None:
        try:
            client = _client(url, name, password)
        except Exception:
            return
        count = 0
        while not stop.is_set():
            comment = f"k9-{round_}-{name}-{count}"
            count += 1
            try:
                shown = client.predict(api_name="/blind_next")
                if not shown[0]:  # (a message instead of a pair)
                    if "compared every restoration" in shown[3]:
                        return  # each restoration is shown to a rater once: this one has seen them all
                    continue
                with lock:
                    sent.append(comment)
                reveal = client.predict("-", "-", comment, api_name="/blind_vote_left")
            except Exception:
                return  # (the server is gone)
            if "Vote recorded" in reveal:
                with lock:
                    acknowledged.append(comment)

    threads = [threading.Thread(target=rater, args=item, daemon=True) for item in logins.items()]
    for thread in threads:
        thread.start()
    return threads


def run(raters: int = 6, rounds: int = 3, burst_seconds: float = 4.0, murals: int = 12,
        root: Path | None = None) -> dict:
    root = root or Path(tempfile.mkdtemp(prefix="muralxgan-kill9-"))
    everyone = prepare(root, raters, murals)
    logins, late = dict(list(everyone.items())[:raters]), dict(list(everyone.items())[raters:])
    app = App(root, murals)
    acknowledged: list[str] = []
    sent: list[str] = []
    lock = threading.Lock()
    restarts = []
    try:
        for round_ in range(rounds):
            started = time.perf_counter()
            url = app.start()
            restarts.append(round(time.perf_counter() - started, 1))
            stop = threading.Event()
            threads = burst(url, logins, round_, stop, acknowledged, sent, lock)
            time.sleep(burst_seconds)
            app.kill9()  # in the middle of the burst
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        url = app.start()  # the last restart: is everything there, and does voting go on?
        after_restart = []
        stop = threading.Event()
        threads = burst(url, dict(list(logins.items())[:2]) | late, rounds, stop, after_restart, [], lock)
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        app.stop()
    with sqlite3.connect(root / "study.db") as db:
        stored = {row[0] for row in db.execute("SELECT comment FROM votes")}
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        duplicates = db.execute("SELECT COUNT(*) - COUNT(DISTINCT pair_id) FROM votes").fetchone()[0]
    lost = sorted(set(acknowledged) - stored)
    unacknowledged_stored = sorted((stored & set(sent)) - set(acknowledged))
    return {"raters": raters, "rounds": rounds, "burst_seconds": burst_seconds,
            "votes_acknowledged": len(acknowledged), "acknowledged_votes_lost": len(lost), "lost": lost[:10],
            "stored_without_acknowledgement": len(unacknowledged_stored),
            "votes_sent_not_stored": len(set(sent) - stored), "duplicate_votes": duplicates,
            "integrity_check": integrity, "votes_after_last_restart": len(after_restart),
            "restart_seconds": restarts, "folder": str(root)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raters", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst-seconds", type=float, default=4.0)
    parser.add_argument("--murals", type=int, default=12, help="murals (one pair each per rater and 2 systems)")
    parser.add_argument("--out", type=Path, default=Path("outputs/kill9"))
    args = parser.parse_args(argv)
    report = run(args.raters, args.rounds, args.burst_seconds, args.murals)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kill9.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    ok = (report["acknowledged_votes_lost"] == 0 and report["integrity_check"] == "ok"
          and report["duplicate_votes"] == 0 and report["votes_after_last_restart"] > 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
