import multiprocessing
import threading

import numpy as np
import pytest

from mural_inpaint.errors import InputError
from mural_inpaint.review.ratings import Vote, leaderboard
from mural_inpaint.review.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "db" / "test.db")
    for mural_id in ("m1", "m2"):
        store.add_mural(mural_id, mural_id, 64, 64, f"/x/{mural_id}.png", f"/x/{mural_id}-mask.png")
        for system in ("telea", "biharmonic", "muralxgan"):
            store.add_candidate(mural_id, system, f"/x/{mural_id}-{system}.png", {"restorer": system})
    return store


def test_schema_is_created_in_wal_mode_and_migrations_are_idempotent(store):
    assert store.db.journal_mode == "wal"
    Store(store.path)  # a second start migrates nothing and loses nothing
    assert {"murals", "captions", "caption_reviews", "candidates", "pairs", "votes", "raters", "meta"} <= set(
        store.db.table_names())
    assert store.db["candidates"].count == 6


def test_reviews_are_appended_never_overwritten(store):
    store.add_caption("m1", "describer", "Damage covers 5%")
    first = store.review_caption("m1", "ana", "Flaking cinnabar, 5%", "approved")
    second = store.review_caption("m1", "ben", "Flaking vermilion, 5%", "approved")
    history = store.review_history("m1")
    assert [h["id"] for h in history] == [first, second]
    assert history[0]["final_text"] == "Flaking cinnabar, 5%" and history[0]["draft"] == "Damage covers 5%"
    assert store.reviewed_captions()[0]["final_text"] == "Flaking vermilion, 5%"
    assert store.review_progress() == (1, 1)
    with pytest.raises(InputError, match="approved, rejected"):
        store.review_caption("m1", "ana", "x", "maybe")
    with pytest.raises(InputError, match="No caption to review"):
        store.review_caption("m2", "ana", "x", "approved")


def test_pairs_hide_systems_and_votes_are_accepted_once_for_their_rater(store):
    rng = np.random.default_rng(0)
    pair = store.issue_pair("ana", rng)
    assert "telea" not in repr(pair) and "muralxgan" not in repr(pair) and "biharmonic" not in repr(pair)
    with pytest.raises(InputError, match="not issued to you"):
        store.record_vote(pair.pair_id, "ben", "left")
    revealed = store.record_vote(pair.pair_id, "ana", "left", 4, 2, "sharper lines")
    assert {revealed["left_system"], revealed["right_system"]} <= {"telea", "biharmonic", "muralxgan"}
    with pytest.raises(InputError, match="already voted"):
        store.record_vote(pair.pair_id, "ana", "right")
    with pytest.raises(InputError, match="not issued to you"):
        store.record_vote("made-up", "ana", "left")
    with pytest.raises(InputError, match="Scores go from 1 to 5"):
        store.record_vote(store.issue_pair("ana", rng).pair_id, "ana", "tie", 9)
    assert len(store.votes()) == 1


def test_pair_drawing_favours_the_least_voted_and_shows_a_rater_each_restoration_once(store):
    rng = np.random.default_rng(1)
    drawn, shown = [], {}
    for rater in ("ana", "ben", "cy"):  # 3 systems: one pair of each mural for each rater, the third stays unseen
        for _ in range(6):  # (more than there are)
            pair = store.issue_pair(rater, rng)
            if pair is None:
                break
            revealed = store.record_vote(pair.pair_id, rater, "tie")
            drawn.append((pair.mural_id, *sorted((revealed["left_system"], revealed["right_system"]))))
            shown.setdefault(rater, []).extend((pair.left_id, pair.right_id))
    assert len(drawn) == len(set(drawn)) == 6  # 2 murals x 3 system pairs: each drawn once before any repeats
    assert all(len(ids) == len(set(ids)) == 4 for ids in shown.values()) and len(shown) == 3
    sides = [store.issue_pair(f"ben{s}", np.random.default_rng(s)).left_id for s in range(20)]
    assert len(set(sides)) > 1  # left / right is a coin flip


def test_an_open_pair_comes_back_until_it_is_answered(store):
    rng = np.random.default_rng(2)
    pair = store.issue_pair("ana", rng)
    again = store.issue_pair("ana", rng)
    assert again.pair_id == pair.pair_id and again.reissued and not pair.reissued
    assert store.db["pairs"].count == 1  # asking again issues nothing new
    with pytest.raises(InputError, match="pick a reason"):
        store.skip_pair(pair.pair_id, "ana", " ")
    assert store.skip_pair(pair.pair_id, "ana", "cannot judge", limit=1) == 1
    second = store.issue_pair("ana", rng)
    assert second.pair_id != pair.pair_id
    with pytest.raises(InputError, match="skipped 1 pairs, the most"):
        store.skip_pair(second.pair_id, "ana", "cannot judge", limit=1)
    store.record_vote(second.pair_id, "ana", "tie")
    assert store.skip_counts() == {"ana": 1} and store.open_pair("ana") is None


def _vote_many(path, rater, count):
    store = Store(path)
    rng = np.random.default_rng(abs(hash(rater)) % 2**32)
    for _ in range(count):
        pair = store.issue_pair(rater, rng)
        store.record_vote(pair.pair_id, rater, "left" if rng.random() < 0.6 else "right")


def test_concurrent_writers_lose_nothing(store):
    for mural_id in (f"c{n}" for n in range(15)):  # enough for 15 votes by each rater, who sees each restoration once
        store.add_mural(mural_id, mural_id, 64, 64, f"/x/{mural_id}.png", f"/x/{mural_id}-mask.png")
        for system in ("telea", "biharmonic"):
            store.add_candidate(mural_id, system, f"/x/{mural_id}-{system}.png", {"restorer": system})
    threads = [threading.Thread(target=_vote_many, args=(store.path, f"t{i}", 15)) for i in range(4)]
    processes = [multiprocessing.get_context("spawn").Process(target=_vote_many, args=(store.path, f"p{i}", 15))
                 for i in range(3)]
    for worker in threads + processes:
        worker.start()
    for worker in threads + processes:
        worker.join(timeout=120)
    assert all(p.exitcode == 0 for p in processes)
    votes = store.votes()
    assert len(votes) == 7 * 15
    assert len({v["pair_id"] for v in votes}) == len(votes)
    board = leaderboard([Vote(v["left_system"], v["right_system"], {"left": "a", "right": "b"}[v["outcome"]])
                         for v in votes], rounds=100)
    assert {r.system for r in board} == {"telea", "biharmonic", "muralxgan"}
