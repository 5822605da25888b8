"""A blind study that stays blind and an app that survives the public (issue 14): a rater who reads what the page
receives, pairs that must be answered, who adds murals, candidates computed once, sessions, login limits, exports."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

from mural_inpaint.imaging import load_image
from tests.app_fixtures import SYSTEMS, write_collection
from tests.helpers import back_to_schema_1

PAIR = re.compile(r"A was \*\*(.+?)\*\*, B was \*\*(.+?)\*\*")
STUDY_LOGINS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw", "dave": "dave-pw", "erin": "erin-pw"}
SKIP_LIMIT = 2
STUDY_MURALS = 10
STUDY_SYSTEMS = (*SYSTEMS, "navier-stokes")  # four systems: two pairs of each mural for each rater
PAIRS_PER_RATER = STUDY_MURALS * (len(STUDY_SYSTEMS) // 2)  # each rater sees each restoration once
ALL_COMPARED = "You have compared every restoration available to you; thank you."


def login_cookie(url: str, name: str, password: str | None = None) -> str:
    import httpx

    response = httpx.post(url + "auth/login", data={"username": name, "password": password or STUDY_LOGINS[name]})
    assert response.status_code == 303, response.text
    return "; ".join(f"{k}={v}" for k, v in response.cookies.items())


def rater(url: str, name: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, headers={"Cookie": login_cookie(url, name)})


@pytest.fixture(scope="module")
def study_server(tmp_path_factory):
    """(url, context): ten murals with candidates from the shipped model, telea, biharmonic and navier-stokes (so
    twenty pairs for each rater); alice is admin."""
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.server import BackgroundServer
    from mural_inpaint.app.settings import AppSettings

    root = tmp_path_factory.mktemp("study")
    murals = write_collection(root / "murals", count=STUDY_MURALS)
    settings = AppSettings(db_path=root / "study.db", review_sources=(str(murals),), logins=STUDY_LOGINS,
                           admins=frozenset({"alice"}), blind_systems=STUDY_SYSTEMS, skip_limit=SKIP_LIMIT)
    context = create_context(settings)
    assert context.worker.idle.wait(300), "candidates were not computed in time"
    server = BackgroundServer(context)
    url = server.start()
    yield url, context
    server.stop()


def pixels_hash(png: bytes) -> str:
    """What no re-encoding, padding or fresh name changes: the SHA-256 of the decoded pixels."""
    return hashlib.sha256(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).tobytes()).hexdigest()


def _showing(client, url: str) -> tuple[dict, list[dict]]:
    """Ask for a pair the way the page does; returns (everything the page received, [damaged, A, B] as seen), the
    list empty when a message came instead of a pair."""
    import httpx

    received = client.predict(api_name="/blind_next")
    shown = []
    for file_data in received[:3] if received[0] else []:
        address = file_data["url"]
        response = httpx.get(address if address.startswith("http") else url + address.lstrip("/"))
        assert response.status_code == 200
        path = PurePosixPath(address.split("file=", 1)[1])
        shown.append({"folder": path.parent.name, "name": path.name, "body": response.content,
                      "size": len(response.content), "headers": response.headers, "data": file_data,
                      "pixels": pixels_hash(response.content)})
    return {"outputs": received}, shown


def play_the_rater(client, url: str, learn: int, seed: int = 0, most: int = 3 * PAIRS_PER_RATER) -> dict:
    """The attack of issue 14, point 1, with every observable a rater has: learn address folder -> system, file size
    -> system and decoded pixels -> system from the reveals of ``learn`` votes, then, before each further vote, say
    which system is on side A; until no pair is left for the rater (or ``most`` pairs, so old code ends too).

    A prediction is scored against the pair's two systems revealed afterwards: where the tables name one of them for a
    side, that is the guess; otherwise a coin flip.  Chance is 1/2.
    """
    rng = np.random.default_rng(seed)
    by_folder: dict[str, str] = {}
    by_pixels: dict[str, str] = {}
    by_size: dict[int, dict[str, int]] = {}
    correct = informed = predicted = 0
    showings = []
    for round_ in range(most):
        received, shown = _showing(client, url)
        if not shown:
            return {"rate": correct / max(1, predicted), "correct": correct, "predicted": predicted,
                    "informed": informed, "showings": showings, "message": received["outputs"][3]}
        damaged, a, b = shown
        showings.append((received, damaged, a, b))
        guess = None
        for side, other in ((a, False), (b, True)):
            named = by_pixels.get(side["pixels"]) or by_folder.get(side["folder"])
            if named is None and side["size"] in by_size:
                counts = by_size[side["size"]]
                if a["size"] != b["size"] or len(counts) == 1:
                    named = max(counts, key=counts.get)
            if named is not None:
                guess = (named, other)
                break
        reveal = client.predict("-", "-", "", api_name="/blind_vote_tie")
        left, right = PAIR.search(reveal).groups()
        if round_ >= learn:
            predicted += 1
            if guess is not None and guess[0] in (left, right):
                informed += 1
                # a name for side B says side A holds the pair's other system
                said_left = guess[0] if not guess[1] else (right if guess[0] == left else left)
            else:
                said_left = (left, right)[int(rng.integers(2))]
            correct += said_left == left
        for side, system in ((a, left), (b, right)):
            by_folder[side["folder"]] = by_pixels[side["pixels"]] = system
            by_size.setdefault(side["size"], {}).setdefault(system, 0)
            by_size[side["size"]][system] += 1
    raise AssertionError(f"{most} pairs shown to one rater: restorations are shown again")


def test_a_rater_who_reads_the_page_cannot_tell_which_system_is_which(study_server):
    """Addresses, sizes, headers, the event data and the pixels: nothing links a showing to a system or to another
    showing."""
    url, context = study_server
    played = play_the_rater(rater(url, "bob"), url, learn=5)
    print(f"rater prediction rate: {played['correct']}/{played['predicted']} = {played['rate']:.2f} "
          f"(informed guesses: {played['informed']})")
    assert len(played["showings"]) == PAIRS_PER_RATER and played["message"].startswith(ALL_COMPARED)
    folders, names = [], []
    pairs = {p["id"]: p for p in context.store.db.query("SELECT * FROM pairs WHERE rater = 'bob'")}
    for received, damaged, a, b in played["showings"]:
        folders += [damaged["folder"], a["folder"], b["folder"]]
        names += [damaged["name"], a["name"], b["name"]]
        assert a["size"] == b["size"], "the two sides of a pair differ in size"
        assert a["headers"]["content-length"] == b["headers"]["content-length"]
        # Gradio touches each copy as it hands it out, so Last-Modified is the moment of the showing (A's and B's a
        # second apart at most, whichever system is on which side), never the stored file's
        assert abs(_http_time(b["headers"]["last-modified"]) - _http_time(a["headers"]["last-modified"])) <= 1
        text = json.dumps(received)
        assert not [s for s in STUDY_SYSTEMS if s in text]
        assert not [pair_id for pair_id in pairs if pair_id in text]
        for pair in pairs.values():
            assert pair["left_id"] not in text and pair["right_id"] not in text
    for candidate in context.store.db.query("SELECT image_path FROM candidates"):
        assert PurePosixPath(candidate["image_path"]).stem not in text  # nor the stored file's random name
    assert len(set(folders)) == len(folders), "an address folder recurs across showings"
    assert len(set(names)) == len(names), "a file name recurs across showings"
    # with no informed guess every prediction is a coin flip: 14 or more of 15 right happens once in 2000 runs
    assert played["informed"] == 0 and played["correct"] <= played["predicted"] - 2


def _http_time(value: str) -> float:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(value).timestamp()


def test_a_rater_who_hashes_the_pixels_never_sees_a_restoration_again(study_server):
    """Pixels are what a showing cannot change: a rater who notes SHA-256(decoded pixels) -> system at every reveal
    would know a side of any later pair holding one of those restorations.  No later pair holds one (nor one of a
    skipped pair, whose pixels would link two showings); when none is left, the rater is told so in plain words."""
    url, context = study_server
    erin = rater(url, "erin")
    revealed: dict[str, str] = {}
    skipped: set[str] = set()
    for round_ in range(3 * PAIRS_PER_RATER):
        received, shown = _showing(erin, url)
        if not shown:
            break
        sides = [side["pixels"] for side in shown[1:]]
        assert len(set(sides)) == 2
        again = [revealed.get(pixels, "skipped") for pixels in sides if pixels in revealed or pixels in skipped]
        assert not again, f"pair {round_ + 1} shows again a restoration erin has seen ({again})"
        if round_ == 3:
            erin.predict("I cannot judge this kind of damage", "", api_name="/blind_skip")
            skipped.update(sides)
            continue
        left, right = PAIR.search(erin.predict("-", "-", "", api_name="/blind_vote_tie")).groups()
        revealed.update(zip(sides, (left, right), strict=True))
    message = received["outputs"][3]
    assert message.startswith(ALL_COMPARED) and "New murals will add more" in message
    assert "MURALXGAN" not in message
    assert len(revealed) + len(skipped) == 2 * PAIRS_PER_RATER  # every pair there was for her, none twice
    for mural in context.store.murals():  # what is left unseen cannot make a pair
        unseen = [c for c in context.store.candidates_of(mural["id"]) if c["system"] in context.systems
                  and c["id"] not in context.store.shown_candidates("erin")]
        assert len(unseen) <= 1


def test_served_images_decode_to_the_stored_pixels(study_server):
    """The padding that evens out sizes changes no pixel, for PIL and for OpenCV."""
    import cv2

    url, context = study_server
    client = rater(url, "alice")
    _, (_, a, b) = _showing(client, url)
    pair = next(iter(context.store.db.query("SELECT * FROM pairs WHERE rater = 'alice' ORDER BY rowid DESC LIMIT 1")))
    for side, candidate_id in ((a, pair["left_id"]), (b, pair["right_id"])):
        stored = load_image(context.store.candidate(candidate_id)["image_path"])
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(side["body"])).convert("RGB")), stored)
        decoded = cv2.imdecode(np.frombuffer(side["body"], np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(decoded, stored)
    client.predict("-", "-", "", api_name="/blind_vote_tie")


def test_showings_are_padded_alike_and_carry_no_metadata(tmp_path, mural):
    from PIL import PngImagePlugin

    from mural_inpaint.app.served import pad_png, serve_copy, serve_pair
    from mural_inpaint.imaging import save_png

    info = PngImagePlugin.PngInfo()
    info.add_text("restorer", "muralxgan")
    tagged = tmp_path / "tagged.png"
    Image.fromarray(mural).save(tagged, pnginfo=info)
    smooth = save_png(np.full((64, 80, 3), 90, np.uint8), tmp_path / "smooth.png")
    palette = tmp_path / "palette.png"
    Image.fromarray(mural[::-1]).convert("P").save(palette)
    damaged, left, right = serve_pair(str(tagged), str(tagged), str(smooth), [str(tagged), str(smooth), str(palette)])
    assert Path(left).stat().st_size == Path(right).stat().st_size > tagged.stat().st_size
    assert len({Path(p).stat().st_mtime_ns for p in (damaged, left, right)}) == 1
    assert b"muralxgan" not in Path(left).read_bytes() and b"restorer" not in Path(damaged).read_bytes()
    for shown, source in ((damaged, tagged), (left, tagged), (right, smooth)):
        assert np.array_equal(load_image(shown), load_image(source))
    again = serve_copy(str(smooth)), serve_copy(str(smooth))
    assert Path(again[0]).read_bytes() != Path(again[1]).read_bytes()  # a fresh nonce, so a fresh cache folder
    with pytest.raises(ValueError, match="cannot pad"):
        pad_png(Path(smooth).read_bytes(), 10)


# ------------------------------------------------------------------------------------- a pair is answered first
def test_a_pair_must_be_answered_before_the_next_and_skips_are_capped(study_server):
    from mural_inpaint.app.blind_logic import SKIP_REASONS, STILL_OPEN

    url, context = study_server
    carol = rater(url, "carol")

    def carols_pairs():
        return list(context.store.db.query("SELECT * FROM pairs WHERE rater = 'carol' ORDER BY rowid"))

    first = carol.predict(api_name="/blind_next")
    for _ in range(3):  # pressing Next pair again, or opening another tab, shows the same pair
        again = carol.predict(api_name="/blind_next")
        assert STILL_OPEN in again[3]
    other_tab = rater(url, "carol")
    assert STILL_OPEN in other_tab.predict(api_name="/blind_next")[3]
    assert len(carols_pairs()) == 1 and first[3] == ""
    with pytest.raises(Exception, match="Say why you skip"):
        carol.predict(None, "", api_name="/blind_skip")
    assert "may skip 1 more pair" in carol.predict(SKIP_REASONS[0], "  faded photo ", api_name="/blind_skip")
    with pytest.raises(Exception, match="Load a pair first"):
        carol.predict(SKIP_REASONS[0], "", api_name="/blind_skip")
    carol.predict(api_name="/blind_next")
    assert "may skip 0 more pairs" in carol.predict(SKIP_REASONS[2], "", api_name="/blind_skip")
    carol.predict(api_name="/blind_next")
    with pytest.raises(Exception, match="skipped 2 pairs, the most a rater may skip"):
        carol.predict(SKIP_REASONS[1], "", api_name="/blind_skip")
    with pytest.raises(Exception, match="You skipped this pair"):  # the other tab still holds the first pair
        other_tab.predict("-", "-", "", api_name="/blind_vote_left")
    assert "A was **" in carol.predict("-", "-", "", api_name="/blind_vote_left")
    pairs = carols_pairs()
    assert len(pairs) == 3 and [p["skipped_at"] is not None for p in pairs] == [True, True, False]
    skips = [s for s in context.store.skips() if s["rater"] == "carol"]
    assert [(s["reason"], s["detail"]) for s in skips] == [(SKIP_REASONS[0], "faded photo"), (SKIP_REASONS[2], "")]

    table = rater(url, "alice").predict(api_name="/skips")
    row = next(r for r in table["data"] if r[0] == "carol")
    assert row[1:4] == [1, 2, 0] and SKIP_REASONS[0] in row[4]
    with pytest.raises(Exception, match="Only the study's admins can see skips per rater"):
        rater(url, "dave").predict(api_name="/skips")


def test_old_open_pairs_cannot_be_voted_and_an_existing_database_gains_the_new_tables(tmp_path):
    """Schema 1 files (no skips, no sessions, no pairs.skipped_at) are upgraded in place, their rows kept."""
    import sqlite3

    from mural_inpaint.errors import InputError
    from mural_inpaint.review.store import Store

    path = tmp_path / "old.db"
    store = Store(path)
    store.add_mural("m", "m", 8, 8, "i", "k")
    for system in ("telea", "biharmonic"):
        store.add_candidate("m", system, f"{system}.png", {})
    rng = np.random.default_rng(0)
    voted = store.issue_pair("ana", rng)
    store.record_vote(voted.pair_id, "ana", "tie")
    store.db.conn.close()
    old = sqlite3.connect(path)  # back to what a schema-1 file holds
    old.executescript("DROP INDEX idx_pairs_rater; " + back_to_schema_1())
    stale = ("stale", "m", voted.left_id, voted.right_id, "ana", "2024-01-01", None)
    old.execute("INSERT INTO pairs VALUES (?, ?, ?, ?, ?, ?, ?)", stale)  # cycled past under the old rules
    old.commit()
    old.close()

    upgraded = Store(path)
    assert {"skips", "sessions"} <= set(upgraded.db.table_names()) and "skipped_at" in upgraded.db["pairs"].columns_dict
    assert len(upgraded.votes()) == 1 and upgraded.db["pairs"].count == 2
    assert upgraded.open_pair("ana").pair_id == "stale"  # the last pair issued is the open one
    fresh = upgraded.issue_pair("ana", rng)
    assert fresh.pair_id == "stale" and fresh.reissued
    upgraded.skip_pair("stale", "ana", "cannot judge")
    assert upgraded.issue_pair("ana", rng) is None  # she has seen both restorations of "m"
    upgraded.add_mural("n", "n", 8, 8, "i", "k")
    for system in ("telea", "biharmonic"):
        upgraded.add_candidate("n", system, f"n-{system}.png", {})
    newer = upgraded.issue_pair("ana", rng)
    with pytest.raises(InputError, match="You skipped this pair"):
        upgraded.record_vote("stale", "ana", "left")
    upgraded.record_vote(newer.pair_id, "ana", "left")


def test_a_pair_that_cannot_be_shown_leaves_no_row_and_skipping_can_be_off(tmp_path, mural, hole):
    from mural_inpaint.app.blind_logic import next_pair, skip
    from mural_inpaint.errors import InputError
    from mural_inpaint.imaging import save_png

    context = _context(tmp_path, skip_limit=0)
    image, mask = save_png(mural, tmp_path / "m.png"), save_png(hole, tmp_path / "m-mask.png")
    context.store.add_mural("m", "m", 80, 64, str(image), str(mask))
    context.store.add_candidate("m", "telea", str(tmp_path / "gone.png"), {})
    context.store.add_candidate("m", "biharmonic", str(image), {})
    with pytest.raises(InputError, match="could not be loaded on the server; press Next pair") as raised:
        next_pair(context, "ana", np.random.default_rng(0))
    assert str(tmp_path) not in str(raised.value) and context.store.db["pairs"].count == 0
    context.store.db.execute("UPDATE candidates SET image_path = ? WHERE system = 'telea'", [str(image)])
    context.store.db.conn.commit()
    shown = next_pair(context, "ana", np.random.default_rng(0))
    with pytest.raises(InputError, match="Skipping is off in this study"):
        skip(context, "ana", shown.pair_id, "cannot judge")


def test_a_rater_who_has_seen_every_restoration_is_told_so_and_new_murals_add_more(tmp_path, mural, hole):
    from mural_inpaint.app.blind_logic import ALL_COMPARED, NOTHING_READY, cast_vote, next_pair, skip
    from mural_inpaint.errors import InputError
    from mural_inpaint.imaging import save_png

    context = _context(tmp_path)  # telea and biharmonic: one pair of each mural for each rater
    rng = np.random.default_rng(0)
    with pytest.raises(InputError) as raised:
        next_pair(context, "ana", rng)
    assert str(raised.value) == NOTHING_READY

    def add_mural(name: str) -> None:
        image, mask = save_png(mural, tmp_path / f"{name}.png"), save_png(hole, tmp_path / f"{name}-mask.png")
        context.store.add_mural(name, name, 80, 64, str(image), str(mask))
        for system in context.systems:
            context.store.add_candidate(name, system, str(image), {})

    add_mural("m")
    cast_vote(context, "ana", next_pair(context, "ana", rng).pair_id, "tie")
    skip(context, "ben", next_pair(context, "ben", rng).pair_id, "cannot judge")  # a skip uses the pair up too
    for who in ("ana", "ben"):
        for _ in range(2):  # asking again says the same, and issues nothing
            with pytest.raises(InputError) as raised:
                next_pair(context, who, rng)
            assert str(raised.value) == ALL_COMPARED
    assert "You have compared every restoration available to you; thank you." in ALL_COMPARED
    assert "New murals will add more." in ALL_COMPARED and "MURALXGAN" not in ALL_COMPARED
    assert context.store.db["pairs"].count == 2
    newcomer = next_pair(context, "cy", rng)  # a rater who has not seen them still gets them
    assert context.store.db["pairs"].get(newcomer.pair_id)["mural_id"] == "m"
    add_mural("n")
    assert context.store.db["pairs"].get(next_pair(context, "ana", rng).pair_id)["mural_id"] == "n"



def test_a_study_can_keep_the_systems_from_raters_so_pooled_reveals_teach_nothing(tmp_path, mural, hole):
    """Raters who pool their reveals (decoded pixels -> system) could recognise restorations the others have not
    rated yet; with MURALXGAN_REVEAL=never no rater ever learns a system, while the votes still count."""
    from mural_inpaint.app.blind_logic import KEPT_HIDDEN, cast_vote, next_pair
    from mural_inpaint.app.settings import AppSettings
    from mural_inpaint.errors import InputError
    from mural_inpaint.imaging import save_png

    context = _context(tmp_path, reveal="never")
    for name in ("m", "n"):
        image, mask = save_png(mural, tmp_path / f"{name}.png"), save_png(hole, tmp_path / f"{name}-mask.png")
        context.store.add_mural(name, name, 80, 64, str(image), str(mask))
        for system in context.systems:
            context.store.add_candidate(name, system, str(image), {})
    rng = np.random.default_rng(0)
    said = [cast_vote(context, who, next_pair(context, who, rng).pair_id, "left") for who in ("ana", "ben", "ana")]
    for message in said:
        assert message == f"Vote recorded: **A is better**. {KEPT_HIDDEN}"
        assert not [system for system in context.systems if system in message]
    assert context.store.db["votes"].count == 3  # the votes count as ever
    assert "MURALXGAN" not in KEPT_HIDDEN
    assert AppSettings.from_env({"MURALXGAN_REVEAL": "Never"}).reveal == "never"
    assert AppSettings.from_env({}).reveal == "after-vote"
    with pytest.raises(InputError, match="MURALXGAN_REVEAL is one of after-vote, never, not 'later'"):
        AppSettings.from_env({"MURALXGAN_REVEAL": "later"})
    shown = _context(tmp_path / "other", reveal="after-vote")
    image = save_png(mural, tmp_path / "o.png")
    shown.store.add_mural("o", "o", 80, 64, str(image), str(save_png(hole, tmp_path / "o-mask.png")))
    for system in shown.systems:
        shown.store.add_candidate("o", system, str(image), {})
    assert PAIR.search(cast_vote(shown, "ana", next_pair(shown, "ana", rng).pair_id, "tie"))

# ------------------------------------------------------------------------------------------ who adds murals
def _context(tmp_path, **settings):
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.settings import AppSettings

    settings = {"logins": STUDY_LOGINS, "admins": frozenset({"alice"}), "blind_systems": ("telea", "biharmonic"),
                **settings}
    return create_context(AppSettings(db_path=tmp_path / "r.db", **settings), start_worker=False)


def test_only_signed_in_restores_with_damage_join_the_study(tmp_path, mural, hole):
    from mural_inpaint.app.context import pipeline_for
    from mural_inpaint.app.restore_logic import joins_study, remember_restoration
    from mural_inpaint.errors import InputError

    restored = pipeline_for("telea").restore(mural, hole, caption="")
    context = _context(tmp_path / "default")
    assert remember_restoration(context, mural, restored, "") is None and context.store.murals() == []
    assert "sign in" in joins_study(context, "", hole)
    empty = pipeline_for("telea").restore(mural, np.zeros_like(hole), caption="")
    assert remember_restoration(context, mural, empty, "bob") is None and context.store.murals() == []
    mural_id = remember_restoration(context, mural, restored, "bob")
    assert [m["id"] for m in context.store.murals()] == [mural_id]
    assert context.store.candidate_systems(mural_id) == {"telea"}

    admins_only = _context(tmp_path / "admins", restores_join="admins")
    assert remember_restoration(admins_only, mural, restored, "bob") is None
    assert remember_restoration(admins_only, mural, restored, "alice") is not None
    off = _context(tmp_path / "off", restores_join="off")
    assert remember_restoration(off, mural, restored, "alice") is None and off.store.murals() == []
    with pytest.raises(InputError, match="MURALXGAN_RESTORES_JOIN is one of"):
        _context(tmp_path / "bad", restores_join="everyone")


def test_restores_by_anonymous_visitors_stay_out_over_http(study_server, tmp_path, mural, hole):
    from gradio_client import Client, handle_file

    from mural_inpaint.imaging import save_png

    url, context = study_server
    before = len(context.store.murals())
    image_path = save_png(mural, tmp_path / "wall.png")
    mask_path = save_png(hole, tmp_path / "wall-mask.png")
    editor = {"background": handle_file(str(image_path)), "layers": [], "composite": None}
    anonymous = Client(url, verbose=False, download_files=str(tmp_path))
    status = anonymous.predict(editor, handle_file(str(mask_path)), "", "telea", api_name="/restore")[3]
    assert "Not added to the study: sign in" in status and len(context.store.murals()) == before
    signed_in = Client(url, verbose=False, download_files=str(tmp_path),
                       headers={"Cookie": login_cookie(url, "dave")})
    status = signed_in.predict(editor, handle_file(str(mask_path)), "", "telea", api_name="/restore")[3]
    assert "joins the caption review queue" in status and len(context.store.murals()) == before + 1
    blank = save_png(np.zeros_like(hole), tmp_path / "blank-mask.png")
    status = signed_in.predict(editor, handle_file(str(blank)), "", "telea", api_name="/restore")[3]
    assert "no damage was marked" in status and len(context.store.murals()) == before + 1


def test_candidates_are_computed_once(tmp_path, mural, hole):
    """The user's restoration is the candidate of its system; the others are computed once; a failing system is
    not retried at every wake."""
    from collections import Counter

    from mural_inpaint.app.catalogue import CatalogueWorker
    from mural_inpaint.app.context import pipeline_for, shared_captioner
    from mural_inpaint.app.restore_logic import remember_restoration
    from mural_inpaint.errors import InputError

    calls = Counter()

    class Counting:
        def __init__(self, system):
            self.system = system

        def restore(self, *args, **kwargs):
            calls[self.system] += 1
            if self.system == "navier-stokes":
                raise InputError("navier-stokes is broken today")
            return pipeline_for(self.system).restore(*args, **kwargs)

    context = _context(tmp_path, blind_systems=("telea", "biharmonic", "navier-stokes"))
    context.worker = CatalogueWorker(context.store, context.settings.files, (), 10, context.systems,
                                     shared_captioner(), Counting)
    restored = pipeline_for("telea").restore(mural, hole, caption="")
    mural_id = remember_restoration(context, mural, restored, "bob")
    assert context.worker.fill_all() == 1
    assert context.worker.fill_all() == 0
    assert remember_restoration(context, mural, restored, "carol") == mural_id  # the same mural again
    assert context.worker.fill_all() == 0
    assert calls == {"biharmonic": 1, "navier-stokes": 1}
    assert context.store.candidate_systems(mural_id) == {"telea", "biharmonic"}
    assert any("no candidate from navier-stokes (navier-stokes is broken today)" in n for n in context.worker.notes)


# ------------------------------------------------------------------------------------------------ sessions
def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(study_server):
    import httpx
    from gradio_client import Client

    url, context = study_server
    cookie = login_cookie(url, "dave")
    copied = {"Cookie": cookie}
    assert httpx.get(url + "gradio_api/user", headers=copied).json() == "dave"
    assert "dave-pw" not in json.dumps(list(context.store.db.query("SELECT * FROM sessions")))
    token = cookie.split("=", 1)[1].strip('"').split("|")[0]
    assert token not in json.dumps(list(context.store.db.query("SELECT * FROM sessions")))  # only its hash is kept
    assert httpx.get(url + "auth/logout", headers={"Cookie": cookie}).status_code == 303
    assert httpx.get(url + "gradio_api/user", headers=copied).json() == ""
    client = Client(url, verbose=False, download_files=False, headers=copied)
    assert "[Sign in](/auth/login) to rate" in client.predict(api_name="/blind_next")[3]
    assert httpx.get(url + "gradio_api/user", headers={"Cookie": login_cookie(url, "dave")}).json() == "dave"


def test_sessions_expire_and_revoke(tmp_path):
    from mural_inpaint.review.store import Store

    store = Store(tmp_path / "s.db")
    token, expires = store.create_session("ana", 3600, now_s=1000.0)
    assert expires == 4600.0 and store.session_user(token, now_s=4599.0) == "ana"
    assert store.session_user(token, now_s=4601.0) == ""  # expired
    assert store.session_user("made-up", now_s=1001.0) == "" and store.session_user(None) == ""
    live, _ = store.create_session("ben", 3600)
    assert store.db["sessions"].count == 1  # the expired one was dropped when the next began
    assert store.revoke_session(live) and store.session_user(live) == "" and not store.revoke_session(live)


def test_failed_logins_are_limited_per_name_and_per_address(tmp_path):
    import httpx

    from mural_inpaint.app.auth import ADDRESS_FACTOR
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.server import BackgroundServer
    from mural_inpaint.app.settings import AppSettings

    settings = AppSettings(db_path=tmp_path / "l.db", logins=STUDY_LOGINS, blind_systems=("telea",),
                           login_attempts=2)
    with BackgroundServer(create_context(settings, start_worker=False)) as url:
        def attempt(name, password):
            return httpx.post(url + "auth/login", data={"username": name, "password": password})

        assert [attempt("alice", "nope").status_code for _ in range(2)] == [401, 401]
        blocked = attempt("alice", "alice-pw")  # even the right password waits
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 800
        assert "Too many failed sign-ins" in blocked.text
        assert attempt("bob", "bob-pw").status_code == 303  # another name is not blocked
        tries = [attempt(f"guess{i}", "x").status_code for i in range(ADDRESS_FACTOR * 2 - 2)]
        assert tries == [401] * len(tries)
        assert attempt("carol", "carol-pw").status_code == 429  # this address has failed 8 times


def test_login_limiter_window():
    from mural_inpaint.app.auth import LoginLimiter

    limiter = LoginLimiter(per_name=2, per_address=3, window_s=60)
    limiter.failed("ana", "1.2.3.4", now=0.0)
    limiter.failed("ana", "1.2.3.4", now=10.0)
    assert limiter.wait_s("ana", "5.6.7.8", now=20.0) == 40.0  # the first failure leaves the window at 60 s
    assert limiter.wait_s("ana", "5.6.7.8", now=61.0) == 0.0
    limiter.failed("ben", "1.2.3.4", now=30.0)
    assert limiter.wait_s("cid", "1.2.3.4", now=30.0) == 30.0
    limiter.succeeded("ana")
    assert limiter.wait_s("ana", "9.9.9.9", now=20.0) == 0.0


# -------------------------------------------------------------------------------------------------- exports
def test_csv_exports_neutralise_formulas(tmp_path):
    import csv

    from mural_inpaint.review.exports import export_skips, export_votes
    from mural_inpaint.review.store import Store

    store = Store(tmp_path / "v.db")
    for index in range(9):  # one pair of each for ana (a rater sees each restoration once)
        mural_id = f"m{index}"
        store.add_mural(mural_id, mural_id, 8, 8, "i", "k")
        for system in ("telea", "muralxgan"):
            store.add_candidate(mural_id, system, f"{mural_id}-{system}.png", {})
    rng = np.random.default_rng(0)
    comments = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd", "fine - really", "3"]
    for comment in comments:
        pair = store.issue_pair("ana", rng)
        store.record_vote(pair.pair_id, "ana", "tie", comment=comment)
    store.skip_pair(store.issue_pair("ana", rng).pair_id, "ana", "other", "=cmd|' /C calc'!A0")
    csv_path, jsonl_path = export_votes(store, tmp_path / "export")
    rows = list(csv.DictReader(csv_path.open(newline="", encoding="utf-8")))
    assert [r["comment"] for r in rows] == ["'" + c for c in comments[:6]] + comments[6:]
    assert [json.loads(line)["comment"] for line in jsonl_path.read_text().splitlines()] == comments
    skipped = list(csv.DictReader(export_skips(store, tmp_path / "export").open(newline="", encoding="utf-8")))
    assert skipped[0]["detail"] == "'=cmd|' /C calc'!A0" and skipped[0]["reason"] == "other"
