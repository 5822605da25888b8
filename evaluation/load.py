"""Load test: many raters and reviewers using the running app at once, over HTTP (gradio_client), localhost only.

    python -m evaluation.load [--raters 20] [--votes 50] [--reviewers 5] [--reviews 20] [--max-seconds 600]
    python -m evaluation.load --url http://127.0.0.1:7860/ --logins-file logins.txt   # drive an app already running

Without ``--url`` it starts ``python app.py`` in its own process on a fresh temporary database, with generated logins
and a small collection of synthetic murals (candidates from ``--systems``, computed before the clock starts).  With
``--url``, the first ``--raters`` + ``--reviewers`` entries of ``--logins-file`` sign in, and the numbers are read
from the app's database (``--db``).  Every client is its own session with its own login cookie; each rater asks for
a pair and votes, ``--votes`` times; each reviewer approves ``--reviews`` descriptions.

Reports votes recorded vs sent (must be equal), duplicate votes (must be none), p50 / p95 / max latency of a vote and
of a review, errors, and throughput.  Bounded in clients, requests and wall time.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

OUTCOMES = ("left", "right", "tie", "both_bad")
MAX_CLIENTS = 64


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _sign_in(url: str, name: str, password: str) -> str:
    import httpx

    response = httpx.post(url + "auth/login", data={"username": name, "password": password}, timeout=30)
    if response.status_code != 303:
        raise RuntimeError(f"could not sign in as {name}: HTTP {response.status_code}")
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.vote_latency: list[float] = []
        self.review_latency: list[float] = []
        self.pair_latency: list[float] = []
        self.votes_sent = 0
        self.reviews_sent = 0
        self.errors: list[str] = []

    def error(self, who: str, error: Exception) -> None:
        with self.lock:
            self.errors.append(f"{who}: {type(error).__name__}: {str(error)[:200]}")


def _client(url: str, name: str, password: str):
    """A gradio_client session signed in as ``name`` (its own cookie, its own server-side state)."""
    from gradio_client import Client

    return Client(url, verbose=False, headers={"Cookie": _sign_in(url, name, password)},
                  download_files=tempfile.mkdtemp(prefix="muralxgan-load-"))


def _timed(samples: list[float], lock: threading.Lock, call, *args, **kwargs):
    start = time.perf_counter()
    result = call(*args, **kwargs)
    with lock:
        samples.append(time.perf_counter() - start)
    return result


def rater(url: str, name: str, password: str, votes: int, deadline: float, tally: Tally, seed: int) -> None:
    """Ask for a pair and vote on it, ``votes`` times (random outcome and score)."""
    rng = random.Random(seed)
    try:
        client = _client(url, name, password)
    except Exception as error:
        tally.error(name, error)
        return
    for _ in range(votes):
        if time.monotonic() > deadline:
            return
        try:
            shown = _timed(tally.pair_latency, tally.lock, client.predict, api_name="/blind_next")
            if shown[3]:  # a message instead of a pair
                raise RuntimeError(shown[3])
            with tally.lock:
                tally.votes_sent += 1
            _timed(tally.vote_latency, tally.lock, client.predict, str(rng.randint(1, 5)), "-", "",
                   api_name=f"/blind_vote_{rng.choice(OUTCOMES)}")
        except Exception as error:
            tally.error(name, error)


def reviewer(url: str, name: str, password: str, reviews: int, deadline: float, tally: Tally) -> None:
    """Open the review queue and approve an edited description, ``reviews`` times."""
    try:
        client = _client(url, name, password)
        client.predict(api_name="/review_show")
    except Exception as error:
        tally.error(name, error)
        return
    for index in range(reviews):
        if time.monotonic() > deadline:
            return
        try:
            with tally.lock:
                tally.reviews_sent += 1
            _timed(tally.review_latency, tally.lock, client.predict,
                   f"Reviewed by {name}, pass {index}: flaking in the lower register.", api_name="/review_approve")
        except Exception as error:
            tally.error(name, error)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _own_app(raters: int, reviewers: int, murals: int, systems: str):
    """Start ``python app.py`` in its own process on a temporary database, with generated logins and murals.

    Returns (process, url, database path, logins) once the app answers and every mural has its candidates.
    """
    import os
    import subprocess
    import sys

    import httpx

    from mural_inpaint.data.damage import synthesize_damage
    from mural_inpaint.imaging import save_png
    from mural_inpaint.review.store import Store

    root = Path(tempfile.mkdtemp(prefix="muralxgan-load-app-"))
    rng = np.random.default_rng(0)
    for index in range(murals):
        yy, xx = np.mgrid[0:128, 0:128]
        picture = np.stack([128 + 90 * np.sin(xx / (9 + index)), 120 + 80 * np.cos(yy / 7),
                            110 + 60 * np.sin((xx + yy) / (11 + index))], axis=-1).astype(np.uint8)
        save_png(picture, root / "murals" / "gt" / f"m{index:02d}.png")
        save_png(synthesize_damage(128, 128, "mixed", rng), root / "murals" / "mask" / f"m{index:02d}.png")
    logins = [(f"rater{i:02d}", f"pw-{i}") for i in range(raters)] + [
        (f"reviewer{i:02d}", f"pw-r{i}") for i in range(reviewers)]
    (root / "logins.txt").write_text("".join(f"{name}:{password}\n" for name, password in logins))
    port = _free_port()
    env = os.environ | {"MURALXGAN_DB": str(root / "load.db"), "MURALXGAN_REVIEW_DATA": str(root / "murals"),
                        "MURALXGAN_REVIEW_LIMIT": str(murals), "MURALXGAN_BLIND_SYSTEMS": systems,
                        "MURALXGAN_LOGINS_FILE": str(root / "logins.txt"), "GRADIO_SERVER_NAME": "127.0.0.1",
                        "GRADIO_SERVER_PORT": str(port)}
    app_file = Path(__file__).resolve().parents[1] / "app.py"
    process = subprocess.Popen([sys.executable, str(app_file)], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    wanted = murals * len(systems.split(","))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with code {process.returncode}")
        try:
            ready = httpx.get(url, timeout=5).status_code == 200 and (root / "load.db").exists() and next(
                Store(root / "load.db").db.query("SELECT COUNT(*) AS n FROM candidates"))["n"] >= wanted
        except httpx.HTTPError:
            ready = False
        if ready:
            return process, url, root / "load.db", logins
        time.sleep(1)
    process.terminate()
    raise RuntimeError("the app was not ready within 10 minutes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an app already running on this machine (default: start one)")
    parser.add_argument("--logins-file", type=Path, help="name:password lines for --url")
    parser.add_argument("--db", type=Path, help="that app's database, to count what was stored (with --url)")
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--votes", type=int, default=50, help="votes per rater")
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument("--reviews", type=int, default=20, help="approvals per reviewer")
    parser.add_argument("--murals", type=int, default=50,
                        help="murals in the self-started app (each rater is shown each restoration once, so a rater "
                             "has at most murals x (systems // 2) pairs to vote on)")
    parser.add_argument("--systems", default="telea,navier-stokes,biharmonic",
                        help="restorers rated in the self-started app")
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--out", type=Path, default=Path("outputs/load"))
    args = parser.parse_args(argv)
    if args.raters + args.reviewers > MAX_CLIENTS:
        parser.error(f"at most {MAX_CLIENTS} clients")
    pairs_per_rater = args.murals * (len(args.systems.split(",")) // 2)
    if not args.url and args.votes > pairs_per_rater:
        parser.error(f"{args.votes} votes per rater need at least that many pairs, but {args.murals} murals with "
                     f"{len(args.systems.split(','))} systems give each rater {pairs_per_rater} (each restoration is "
                     "shown to a rater once): raise --murals")

    process = None
    if args.url:
        if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            parser.error("the load test only drives an app on this machine (localhost)")
        if not args.logins_file or not args.db:
            parser.error("--url needs --logins-file and --db")
        url = args.url.rstrip("/") + "/"
        lines = [line.split(":", 1) for line in args.logins_file.read_text().splitlines() if ":" in line]
        logins = [(name.strip(), password) for name, password in lines]
        db_path = args.db
    else:
        print("starting `python app.py` on a temporary database...", flush=True)
        process, url, db_path, logins = _own_app(args.raters, args.reviewers, args.murals, args.systems)
    from mural_inpaint.review.store import Store

    store = Store(db_path)
    if len(logins) < args.raters + args.reviewers:
        parser.error(f"{args.raters + args.reviewers} logins needed, {len(logins)} given")

    votes_before = len(store.votes())
    reviews_before = next(store.db.query("SELECT COUNT(*) AS n FROM caption_reviews"))["n"]
    tally = Tally()
    deadline = time.monotonic() + args.max_seconds
    print(f"{args.raters} raters x {args.votes} votes and {args.reviewers} reviewers x {args.reviews} approvals "
          f"against {url}", flush=True)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.raters + args.reviewers) as pool:
        jobs = [pool.submit(rater, url, *logins[i], args.votes, deadline, tally, i) for i in range(args.raters)]
        jobs += [pool.submit(reviewer, url, *logins[args.raters + i], args.reviews, deadline, tally)
                 for i in range(args.reviewers)]
        for job in jobs:
            job.result()
    wall = time.perf_counter() - start

    votes = store.votes()[votes_before:]
    recorded = len(votes)
    duplicates = recorded - len({v["pair_id"] for v in votes})
    reviews_recorded = next(store.db.query("SELECT COUNT(*) AS n FROM caption_reviews"))["n"] - reviews_before
    report = {
        "url": url, "raters": args.raters, "votes_per_rater": args.votes, "reviewers": args.reviewers,
        "reviews_per_reviewer": args.reviews, "wall_s": round(wall, 1),
        "votes_sent": tally.votes_sent, "votes_recorded": recorded, "duplicate_votes": duplicates,
        "reviews_sent": tally.reviews_sent, "reviews_recorded": reviews_recorded,
        "vote_latency_s": {"p50": _percentile(tally.vote_latency, 50), "p95": _percentile(tally.vote_latency, 95),
                           "max": max(tally.vote_latency, default=float("nan"))},
        "next_pair_latency_s": {"p50": _percentile(tally.pair_latency, 50),
                                "p95": _percentile(tally.pair_latency, 95)},
        "review_latency_s": {"p50": _percentile(tally.review_latency, 50),
                             "p95": _percentile(tally.review_latency, 95)},
        "votes_per_s": round(recorded / wall, 2) if wall else None,
        "errors": len(tally.errors), "first_errors": tally.errors[:10],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"votes sent {tally.votes_sent}, recorded {recorded} "
        f"({'equal' if recorded == tally.votes_sent else 'NOT EQUAL'}), duplicates {duplicates}",
        f"reviews sent {tally.reviews_sent}, recorded {reviews_recorded}",
        f"vote latency p50 {report['vote_latency_s']['p50']:.3f} s, p95 {report['vote_latency_s']['p95']:.3f} s, "
        f"max {report['vote_latency_s']['max']:.3f} s; next pair p50 {report['next_pair_latency_s']['p50']:.3f} s, "
        f"p95 {report['next_pair_latency_s']['p95']:.3f} s",
        f"review latency p50 {report['review_latency_s']['p50']:.3f} s, p95 {report['review_latency_s']['p95']:.3f} s",
        f"errors {len(tally.errors)}; wall {wall:.1f} s; {report['votes_per_s']} votes/s",
    ]
    print("\n".join(lines))
    for error in tally.errors[:10]:
        print("  ", error)
    if process is not None:
        process.terminate()
        process.wait(timeout=30)
    ok = recorded == tally.votes_sent and duplicates == 0 and not tally.errors
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
