"""Review, blind A/B and leaderboard: settings, logins, the catalogue, each tab's logic, and the same over HTTP."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mural_inpaint.app.auth import sign, verify
from mural_inpaint.app.catalogue import fill_candidates, import_collection, mural_fingerprint
from mural_inpaint.app.context import create_context, pipeline_for, shared_captioner
from mural_inpaint.app.settings import AppSettings, password_matches
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import load_image, load_mask
from tests.app_fixtures import LOGINS, login_cookie, write_collection

SYSTEMS = ("telea", "biharmonic")


@pytest.fixture
def context(tmp_path):
    settings = AppSettings(db_path=tmp_path / "app.db", logins=LOGINS, admins=frozenset({"alice"}),
                           blind_systems=SYSTEMS)
    context = create_context(settings, start_worker=False)
    import_collection(context.store, settings.files, str(write_collection(tmp_path / "murals")), 10,
                      shared_captioner())
    for mural in context.store.murals():
        fill_candidates(context.store, settings.files, mural["id"], SYSTEMS, pipeline_for)
    return context


# ----------------------------------------------------------------------------------------------- settings, logins
def test_settings_from_environment(tmp_path):
    logins_file = tmp_path / "logins.txt"
    digest = hashlib.sha256(b"s3cret").hexdigest()
    logins_file.write_text(f"# panel\ncarol:sha256:{digest}\n\ndave:pa:ss\n")
    settings = AppSettings.from_env({"MURALXGAN_DB": str(tmp_path / "x.db"), "MURALXGAN_LOGINS": "alice:a, bob:b",
                                     "MURALXGAN_LOGINS_FILE": str(logins_file), "MURALXGAN_ADMINS": "alice",
                                     "MURALXGAN_REVIEW_DATA": "a, b", "MURALXGAN_BLIND_SYSTEMS": "telea"})
    assert dict(settings.logins) == {"alice": "a", "bob": "b", "carol": f"sha256:{digest}", "dave": "pa:ss"}
    assert password_matches(settings.logins["carol"], "s3cret") and not password_matches(settings.logins["carol"], "x")
    assert settings.review_sources == ("a", "b") and settings.admins == {"alice"} and settings.systems() == ("telea",)
    assert settings.files == tmp_path / "x-files" and not settings.on_spaces
    with pytest.raises(InputError, match="entry 1: a login is written name:password"):
        AppSettings.from_env({"MURALXGAN_LOGINS": "justaname"})
    with pytest.raises(InputError, match="unknown restorers: dall-e"):
        AppSettings(blind_systems=("dall-e",)).systems()


def test_login_cookie_is_signed_and_expires():
    secret = b"k" * 32
    cookie = sign("alice", secret, now=1000.0)
    assert verify(cookie, secret, now=1001.0) == "alice"
    assert verify(cookie.replace("alice", "admin"), secret, now=1001.0) == ""  # forged name
    assert verify(cookie, b"other" * 8, now=1001.0) == ""  # another server's key
    assert verify(cookie, secret, now=1000.0 + 15 * 86400) == ""  # expired
    assert verify(None, secret) == "" and verify("garbage", secret) == ""


# ----------------------------------------------------------------------------------------------------- catalogue
def test_import_is_idempotent_and_candidates_have_random_names(context, tmp_path):
    murals = context.store.murals()
    assert len(murals) == 3 and all(context.store.latest_caption(m["id"])["captioner"] == "describer" for m in murals)
    added, note = import_collection(context.store, context.settings.files, str(tmp_path / "murals"), 10,
                                    shared_captioner())
    assert added == 0 and "0 new murals" in note and "(3 already there)" in note
    assert len(context.store.murals()) == 3  # same ids: nothing duplicated
    for mural in murals:
        assert context.store.candidate_systems(mural["id"]) == set(SYSTEMS)
        assert fill_candidates(context.store, context.settings.files, mural["id"], SYSTEMS, pipeline_for) == 0
    paths = [row["image_path"] for row in context.store.db.query("SELECT image_path FROM candidates")]
    assert not any(system in path for path in paths for system in SYSTEMS)


def test_mural_id_depends_on_image_and_mask(mural, hole):
    assert mural_fingerprint(mural, hole) == mural_fingerprint(mural.copy(), hole.copy())
    assert mural_fingerprint(mural, hole) != mural_fingerprint(mural, ~hole) != mural_fingerprint(mural[::-1], hole)


# -------------------------------------------------------------------------------------------------------- review
def test_review_decisions_are_appended_and_anonymous_cannot_decide(context):
    from mural_inpaint.app.review_logic import decide, export_reviewed, next_unreviewed, review_view

    view = review_view(context, 0)
    assert view.total == 3 and view.reviewed == 0 and view.text == view.draft and view.captioner == "describer"
    shown = context.store.mural(view.mural_id)
    magenta = (load_image(view.image) == [255, 0, 255]).all(axis=-1)
    assert np.array_equal(magenta, load_mask(shown["mask_path"]))  # exactly the damage is shown in magenta
    with pytest.raises(InputError, match="Sign in to review"):
        decide(context, "", view.mural_id, "text", "approved")
    with pytest.raises(InputError, match="cannot be empty"):
        decide(context, "alice", view.mural_id, "  ", "approved")
    decide(context, "alice", view.mural_id, "A flake in the halo.", "approved")
    decide(context, "bob", view.mural_id, "Flaking in the halo; ochre ground lost.", "approved")
    again = review_view(context, 0)
    assert again.reviewed == 1 and [h[1:] for h in again.history] == [
        ["alice", "approved", "A flake in the halo."], ["bob", "approved", "Flaking in the halo; ochre ground lost."]]
    assert again.text == "Flaking in the halo; ochre ground lost."  # the editor starts from the latest decision
    assert next_unreviewed(context, 0) == 1
    files, message = export_reviewed(context, "alice")
    lines = files[0].read_text().splitlines()
    assert len(lines) == 1 and "ochre ground lost" in lines[0] and files[1].suffix == ".zip"
    assert "MURALXGAN_CAPTIONS_REPO" in message


# ------------------------------------------------------------------------------------------------------ blind A/B
def test_pairs_are_blind_and_votes_count_once(context):
    from mural_inpaint.app.blind_logic import cast_vote, next_pair

    with pytest.raises(InputError, match="Sign in to rate"):
        next_pair(context, "")
    shown = next_pair(context, "alice", np.random.default_rng(0))
    for path in (shown.damaged, shown.left, shown.right):
        assert not any(system in path for system in SYSTEMS) and load_image(path).shape == (64, 80, 3)
    with pytest.raises(InputError, match="not issued to you"):
        cast_vote(context, "bob", shown.pair_id, "left")
    reveal = cast_vote(context, "alice", shown.pair_id, "left", "4", "-", "sharper edges")
    assert "A was **" in reveal and all(s in reveal for s in SYSTEMS)
    with pytest.raises(InputError, match="already voted"):
        cast_vote(context, "alice", shown.pair_id, "right")
    vote = context.store.votes()[0]
    assert (vote["rater"], vote["outcome"], vote["left_score"], vote["right_score"], vote["comment"]) == (
        "alice", "left", 4, None, "sharper edges")
    second = next_pair(context, "alice", np.random.default_rng(1))
    assert context.store.db["pairs"].get(second.pair_id)["mural_id"] != vote["mural_id"]  # least-voted murals first


# ---------------------------------------------------------------------------------------------------- leaderboard
def test_leaderboard_board_and_admin_only_export(context):
    from mural_inpaint.app.blind_logic import cast_vote, next_pair
    from mural_inpaint.app.leaderboard_logic import build_board, export_all_votes

    assert build_board(context).agreement == "No votes yet."
    rng = np.random.default_rng(0)
    for rater in ("alice", "bob"):
        for _ in range(3):
            shown = next_pair(context, rater, rng)
            pair = context.store.db["pairs"].get(shown.pair_id)
            left = context.store.candidate(pair["left_id"])["system"]
            cast_vote(context, rater, shown.pair_id, "left" if left == "biharmonic" else "right")
    assert build_board(context, rounds=50).ratings == []  # 6 votes each: held back below 20
    held_back = build_board(context, rounds=50).notes
    assert held_back == ("Systems with fewer than 20 votes are held back until they have more: biharmonic (6 votes), "
                         "telea (6 votes).")
    board = build_board(context, rounds=200, min_votes=1)
    assert [row[1] for row in board.ratings] == ["biharmonic (reference)", "telea"] and board.ratings[0][6] == 6
    assert board.ratings[1][4] <= board.ratings[1][3] <= board.ratings[1][5] < 1000
    assert board.differences[0][:2] == ["biharmonic", "telea"] and board.differences[0][5] == 6
    assert board.win_rates.ndim == 3 and sorted(board.raters) == [["alice", 3, 0, "", ""], ["bob", 3, 0, "", ""]]
    assert "Fleiss' kappa over 3" in board.agreement and "1.00" in board.agreement
    assert board.notes == ("Ratings are measured from **biharmonic** (the reference, at 1000: the system with the "
                           "most votes), so a newcomer cannot move or widen the others.")
    with pytest.raises(InputError, match="Only the study's admins can export votes"):
        export_all_votes(context, "bob")
    csv_path, jsonl_path, skips_path = export_all_votes(context, "alice")
    assert len(csv_path.read_text().splitlines()) == 7 and len(jsonl_path.read_text().splitlines()) == 6
    assert skips_path.read_text().splitlines() == ["id,pair_id,rater,mural_id,reason,detail,created_at"]


# ------------------------------------------------------------------------------------------------------ over HTTP
def test_identity_comes_from_the_login_cookie_not_the_page(app_server, tmp_path):
    import httpx
    from gradio_client import Client

    url, context = app_server
    assert httpx.post(url + "auth/login", data={"username": "alice", "password": "nope"}).status_code == 401
    anonymous = Client(url, verbose=False, download_files=str(tmp_path))
    result = anonymous.predict(api_name="/blind_next")
    assert result[3] == "[Sign in](/auth/login) to rate restorations." and result[0] is None
    with pytest.raises(Exception, match="Sign in to review"):
        anonymous.predict("text", api_name="/review_approve")

    alice = Client(url, verbose=False, download_files=str(tmp_path), headers={"Cookie": login_cookie(url, "alice")})
    before = len(context.store.votes())
    damaged, left, right, reveal, *_ = alice.predict(api_name="/blind_next")
    assert reveal == "" and all(load_image(p).shape == (64, 80, 3) for p in (damaged, left, right))
    revealed = alice.predict("5", "2", "left looks right", api_name="/blind_vote_left")
    assert "A was **" in revealed
    votes = context.store.votes()
    assert len(votes) == before + 1 and votes[-1]["rater"] == "alice" and votes[-1]["left_score"] == 5
    with pytest.raises(Exception, match="Load a pair first"):
        alice.predict("-", "-", "", api_name="/blind_vote_tie")  # the session's pair was used up

    heading, *_ = alice.predict(api_name="/review_show")
    assert "Mural 1 of" in heading
    alice.predict("Paint lost from the sleeve.", api_name="/review_approve")
    assert context.store.reviewed_captions()[0]["reviewer"] == "alice"


def test_on_a_space_the_hugging_face_login_replaces_local_logins(tmp_path, monkeypatch):
    import httpx

    from mural_inpaint.app.auth import current_user
    from mural_inpaint.app.server import BackgroundServer

    space = {"SYSTEM": "spaces", "SPACE_ID": "lab/muralxgan", "OAUTH_CLIENT_ID": "id", "OAUTH_CLIENT_SECRET": "s",
             "OPENID_PROVIDER_URL": "https://huggingface.co", "OAUTH_SCOPES": "openid profile"}
    import gradio.oauth

    for key, value in space.items():
        monkeypatch.setenv(key, value)
        if hasattr(gradio.oauth, key):  # gradio reads these once, when it is first imported
            monkeypatch.setattr(gradio.oauth, key, value)
    settings = AppSettings.from_env(space | {"MURALXGAN_DB": str(tmp_path / "space.db"),
                                             "MURALXGAN_BLIND_SYSTEMS": "telea"})
    assert settings.on_spaces
    server = BackgroundServer(create_context(settings, start_worker=False))
    with server as url:
        assert httpx.get(url).status_code == 200
        assert httpx.get(url + "auth/login").status_code == 404  # no local logins on a Space
        gradio_app = next(route.app for route in server.app.routes if type(route).__name__ == "Mount")
        assert "/login/huggingface" in {getattr(route, "path", None) for route in gradio_app.routes}
    profile = type("Profile", (), {"username": "carol"})()
    assert current_user(None, profile) == "carol" and current_user(None, None) == ""
