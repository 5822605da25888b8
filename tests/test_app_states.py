"""What people see in the app (issue 15): a description that follows the damage and keeps the conservator's words,
names kept, restore stages, refusals in the project's words (one log line, no traceback), the decision just made,
restorers described, what visitors are told, and one folder for the app's data.  Browser views: test_browser.py."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from mural_inpaint.app.restore_logic import (
    KEPT,
    follow_damage,
    photo_name,
    restore_to_files,
    restored_message,
    words_comparison,
)
from mural_inpaint.app.settings import AppSettings
from mural_inpaint.imaging import save_png
from tests.app_fixtures import login_cookie


def painted(image: np.ndarray, *boxes: tuple[slice, slice]) -> dict:
    layer = np.zeros((*image.shape[:2], 4), np.uint8)
    for box in boxes:
        layer[box] = [255, 0, 255, 255]
    return {"background": image, "layers": [layer], "composite": None}


def test_the_description_follows_the_damage_and_never_replaces_the_conservators_words(mural, tmp_path):
    first = follow_damage(painted(mural, (slice(5, 9), slice(10, 30))), None, "", "")
    assert first.text == first.draft and first.text.startswith("Damage covers") and not first.offer
    grown = painted(mural, (slice(5, 9), slice(10, 30)), (slice(40, 60), slice(50, 75)))
    second = follow_damage(grown, None, first.text, first.draft)  # the box still holds the machine's words
    assert second.text == second.draft != first.draft and "2 regions" in second.text
    mine = "Flaking azurite on the robe; the ground shows through."
    kept = follow_damage(painted(mural, (slice(40, 60), slice(50, 75))), None, mine, second.draft)
    assert kept.text is None and kept.offer and kept.note == KEPT and kept.draft.startswith("Damage covers")
    assert follow_damage({"background": mural, "layers": []}, None, mine, kept.draft).text is None  # all erased
    cleared = follow_damage({"background": mural, "layers": []}, None, second.text, second.draft)
    assert cleared.text == "" and "Paint over the damage" in cleared.note
    wrong = save_png(np.ones((5, 5), bool), tmp_path / "m.png")  # a mask of the wrong size is said, not ignored
    refused = follow_damage({"background": mural, "layers": []}, str(wrong), "", "")
    assert "cannot be described" in refused.note and "5x5 pixels but the image is 80x64" in refused.note


def test_names_stages_and_the_wait_from_the_click(mural):
    assert photo_name("", {"name": "Cave 45 north wall.jpg"}) == "Cave 45 north wall"
    assert photo_name("", {"name": "background.png"}) == "uploaded photo"  # what the editor calls every upload
    assert photo_name(" 莫高窟 45 ", {"name": "x.png"}) == "莫高窟 45"  # the name field wins
    stages = []
    result, _, files = restore_to_files(painted(mural, (slice(5, 9), slice(10, 30)), (slice(40, 60), slice(50, 75))),
                                        None, "", "telea", name="Cave 45/north wall",
                                        progress=lambda stage, fraction: stages.append((stage, fraction)))
    assert [s for s, _ in stages] == ["loading the restorer", "describing the damage", "restoring region 1 of 2",
                                      "restoring region 2 of 2", "compositing", "saving the files"]
    assert [f for _, f in stages] == sorted(f for _, f in stages)
    assert files["restored"].name == "Cave-45-north-wall-restored.png"
    assert json.loads(files["provenance"].read_text())["name"] == "Cave 45/north wall"
    result.provenance["timings"] |= {"restore_s": 4.3, "text_embedding_s": 0.0}
    message = restored_message(result, "telea", 15.4, None)
    assert "**15.4 s** from your click (the restorer itself: 4.3 s)" in message


def test_the_conservator_sees_what_their_words_change(mural):
    """The same damage restored with the conservator's words and with the machine's description, side by side,
    with how far the words moved the restored colour; the provenance records the words used."""
    from mural_inpaint.palette import mean_colour_difference

    editor = painted(mural, (slice(20, 50), slice(20, 50)))
    words = "The lost paint in the damaged area was malachite green."
    result, _, files = restore_to_files(editor, None, words, "muralxgan", name="Cave 45")
    assert json.loads(files["provenance"].read_text())["caption"] == words
    without, note = words_comparison(editor, None, "muralxgan", "Cave 45", result.image, result.mask)
    machine = json.loads(Path(str(without).replace("-restored.png", "-provenance.json")).read_text())
    assert machine["caption"].startswith("Damage covers") and machine["captioner"] != "expert"
    from mural_inpaint.imaging import load_image

    moved = mean_colour_difference(result.image, load_image(without), result.mask)
    assert f"by **{moved:.1f} CIEDE2000**" in note
    assert words_comparison(editor, None, "telea", "Cave 45", result.image, result.mask) == (
        None, "**telea** does not read the description, so your words change nothing.")


def test_restorers_are_offered_with_a_line_on_each():
    from mural_inpaint.app.restore_tab import restorer_choices
    from mural_inpaint.pipeline import default_restorer_name

    choices = restorer_choices()
    assert choices[0][1] == default_restorer_name()
    assert {"telea", "biharmonic", "navier-stokes"} <= {value for _, value in choices}
    assert all(label.startswith(f"{value}: ") and len(label) > len(value) + 10 for label, value in choices)


def test_visitors_are_told_how_to_join_never_how_to_start_the_server():
    from mural_inpaint.app.feedback import how_to_join, study_note, visitor_reason

    for settings in (AppSettings(), AppSettings(logins={"a": "b"}), AppSettings(on_spaces=True)):
        for text in (how_to_join(settings), study_note(settings), visitor_reason(settings, "vote")):
            assert "MURALXGAN" not in text and "start" not in text.lower()
    assert "[sign in](/auth/login)" in how_to_join(AppSettings(logins={"a": "b"}))
    assert "Hugging Face" in visitor_reason(AppSettings(on_spaces=True), "vote")


def test_everything_the_app_writes_by_default_is_under_one_folder(tmp_path):
    settings = AppSettings.from_env({})
    assert settings.db_path == Path("muralxgan-data/muralxgan.db")
    for path in (settings.files, settings.hub_backup_folder):
        assert path.parent == Path("muralxgan-data")
    assert "/muralxgan-data/" in (Path(__file__).parents[1] / ".gitignore").read_text().splitlines()
    moved = AppSettings.from_env({"MURALXGAN_DB": str(tmp_path / "x.db")})
    assert moved.db_path == tmp_path / "x.db" and moved.files == tmp_path / "x-files"


def test_the_store_opens_the_same_default_database_as_the_app(tmp_path, monkeypatch):
    """One definition of where the study lives: a script opening ``Store()`` and the app find the same file."""
    from mural_inpaint.review.store import DEFAULT_DB, Store, default_db_path

    monkeypatch.delenv("MURALXGAN_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    store = Store()
    assert store.path == AppSettings().db_path == AppSettings.from_env({}).db_path == DEFAULT_DB
    assert Path("muralxgan-data/muralxgan.db") == DEFAULT_DB
    assert (tmp_path / "muralxgan-data" / "muralxgan.db").is_file() and not (tmp_path / "muralxgan.db").exists()
    moved = {"MURALXGAN_DB": str(tmp_path / "elsewhere.db")}
    assert default_db_path(moved) == AppSettings.from_env(moved).db_path == tmp_path / "elsewhere.db"
    monkeypatch.setenv("MURALXGAN_DB", str(tmp_path / "set.db"))
    assert Store().path == AppSettings.from_env().db_path == tmp_path / "set.db"


def on_page_load(demo, user: str) -> dict:
    """What the page-load handlers of ``demo`` send to ``user``'s page: {component: update or value}.  (Who is
    signed in comes from the server side of the request, which is all the handlers read.)"""
    from types import SimpleNamespace

    shown = {}
    for dependency in demo.fns.values():
        if dependency.targets and all(event == "load" for _, event in dependency.targets):
            result = dependency.fn(SimpleNamespace(username=user))
            shown.update(zip(dependency.outputs, result if isinstance(result, list) else [result], strict=True))
    return shown


def _button(demo, label: str):
    import gradio as gr

    return next(b for b in demo.blocks.values() if isinstance(b, gr.Button) and b.value == label)


def test_admin_controls_of_the_leaderboard_are_off_with_the_reason_beside_them(tmp_path):
    """Export votes and skips per rater: disabled for visitors and signed-in raters, each with why beside it in plain
    words (never a setting's name); enabled for admins, whose requests alone the handlers accept."""
    import gradio as gr

    from mural_inpaint.app import build_app
    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.feedback import admin_reason

    settings = AppSettings(db_path=tmp_path / "a.db", logins={"alice": "a", "bob": "b"}, admins=frozenset({"alice"}),
                           blind_systems=("telea",))
    demo = build_app(create_context(settings, start_worker=False))
    buttons = {what: _button(demo, label) for what, label in (("export votes", "Export votes as CSV and JSONL"),
                                                              ("see skips per rater", "Show skips"))}
    assert not any(button.interactive for button in buttons.values())  # until the page knows who it is
    notes = {}
    for what, button in buttons.items():  # the note built (hidden) next to each button
        siblings = list(button.parent.children)
        notes[what] = siblings[siblings.index(button) + 1]
        assert isinstance(notes[what], gr.Markdown) and not notes[what].visible
    expected = {"": "Only the study's admins can {}: [sign in](/auth/login) if you are one.",
                "bob": "Only the study's admins can {}.", "alice": ""}
    for user, reason in expected.items():
        shown = on_page_load(demo, user)
        for what, button in buttons.items():
            assert shown[button]["interactive"] == (user == "alice"), (user, what)
            assert shown[notes[what]]["visible"] == (user != "alice")
            assert shown[notes[what]]["value"] == reason.format(what)
            assert "MURALXGAN" not in shown[notes[what]]["value"]
    assert admin_reason(AppSettings(on_spaces=True), "", "export votes") == (
        "Only the study's admins can export votes: sign in with Hugging Face (at the top of the page) if you are one.")
    assert admin_reason(AppSettings(), "", "export votes") == (
        "This server has no logins, so nobody can export votes here.")
    texts = [getattr(block, attribute, None) for block in demo.blocks.values()
             for attribute in ("value", "label", "info")]
    assert not [text for text in texts if isinstance(text, str) and "MURALXGAN" in text]


def test_status_notes_are_for_admins_and_name_no_server_path(tmp_path):
    """The header's notes (collections imported or not, backups) go to admins only, naming a folder by its last
    component; a visitor and a rater see who they are and how to join, nothing operational."""
    import re

    from mural_inpaint.app import build_app
    from mural_inpaint.app.context import create_context
    from tests.app_fixtures import write_collection

    murals = write_collection(tmp_path / "collections" / "murals")
    settings = AppSettings(db_path=tmp_path / "server" / "study.db", logins={"alice": "a", "bob": "b"},
                           admins=frozenset({"alice"}), blind_systems=("telea",), backup_dir=tmp_path / "backup",
                           review_sources=(str(murals), str(tmp_path / "collections" / "gone")))
    context = create_context(settings)
    try:
        assert context.worker.idle.wait(120), "the collections were not imported in time"
        demo = build_app(context)
        identity = next(c for c, value in on_page_load(demo, "alice").items() if isinstance(value, str))
        shown = {user: on_page_load(demo, user)[identity] for user in ("", "bob", "alice")}
    finally:
        context.close()
    assert "murals: 3 new murals with damage masks added (0 already there)" in shown["alice"]
    assert "gone: not imported (Dataset folder not found: gone.)" in shown["alice"]
    assert "no backup found in the backup folder backup; starting with an empty database" in shown["alice"]
    assert shown[""].startswith("Not signed in: [sign in](/auth/login)") and "\n" not in shown[""]
    assert shown["bob"] == "Signed in as **bob** · [Sign out](/auth/logout)"
    for user, text in shown.items():
        assert str(tmp_path) not in text, user
        paths = re.findall(r"(?<![\w.:/~-])~?/[^\s)]+", text.replace("(/auth/login)", "").replace("(/auth/logout)", ""))
        assert not paths, (user, paths)


def test_refusals_are_one_log_line_and_the_decision_just_made_stays(app_server, tmp_path, mural, caplog, capfd):
    from gradio_client import Client, handle_file

    url, _ = app_server
    client = Client(url, verbose=False, download_files=str(tmp_path), headers={"Cookie": login_cookie(url, "bob")})
    editor = {"background": handle_file(str(save_png(mural, tmp_path / "w.png"))), "layers": [], "composite": None}
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="muralxgan.app"), pytest.raises(Exception, match="No damage"):
        client.predict(editor, None, "", "telea", api_name="/restore")
    lines = [r.getMessage() for r in caplog.records if r.name == "muralxgan.app"]
    assert lines == ["muralxgan: restore refused: No damage is marked: paint over the damaged areas or upload a mask."]
    assert "Traceback" not in "".join(capfd.readouterr())

    heading, *_ = client.predict(api_name="/review_show")
    shown = heading.split("(", 1)[1].split(",", 1)[0]  # the mural's name
    heading, *_, status = client.predict("Paint lost from the sleeve.", api_name="/review_approve")
    assert heading.startswith("**Mural 1 of") and shown in heading and "last decision: approved" in heading
    assert status.startswith("Saved: **approved** for mural 1 of ") and f"(**{shown}**)" in status


def test_the_default_restorer_is_loaded_before_the_first_request():
    """``python app.py`` warms the default pipeline up once the page is served; a warm-up that fails is quiet and
    leaves the first request to load (and explain) it."""
    from mural_inpaint.app import context

    assert isinstance(context.warm_up("telea"), float)
    assert context.pipeline_for("telea") is context.pipeline_for("telea")  # loaded once, then shared
    assert context.warm_up("no-such-restorer") is None
