"""How the app speaks to people: refusals (one line in the log, the project's message once in the page), what the
study is, and who may take part in it.

A user error (:class:`~mural_inpaint.errors.MuralXGANError`: a bad upload, a missing sign-in, an empty mask) is
answered with ``raise refused(action, error)``: Gradio shows the message once, in a notice, and the server log gets
one line instead of a traceback.  Events show their progress and that failure on one component beside the control
(``show_progress_on``), so the other outputs keep what they showed (no red "Error" on every output).
Unexpected exceptions are not routed here: those are bugs, and keep their tracebacks.

(No ``from __future__ import annotations`` here: the handler below declares ``gr.Request`` for Gradio to fill in.)
"""

import logging
import re
from typing import TYPE_CHECKING

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.settings import AppSettings

if TYPE_CHECKING:
    from mural_inpaint.app.context import AppContext

logger = logging.getLogger("muralxgan.app")
#: An absolute (or home-relative) path in running text: not part of a URL ("https://...") or of a word ("a/b").
_SERVER_PATH = re.compile(r"(?<![\w.:/~-])~?(?:/[^\s/:;,'\"()\[\]<>`]+)+/?")

STUDY = ("**The study.** Conservators check the machine's descriptions of the damage (Caption review) and compare "
         "two restorations of the same damage without knowing which system made them (Blind A/B); the Leaderboard "
         "ranks the systems from those votes. Everyone can look;")


def refused(action: str, error: Exception):
    """``gr.Error`` carrying ``error``'s message as written, without Gradio's traceback; logs one line."""
    message = str(error)
    logger.warning("muralxgan: %s refused: %s", action, " ".join(message.split()))
    return gr.Error(message, print_exception=False)


def how_to_join(settings: AppSettings) -> str:
    """The way a visitor takes part on this server (Markdown), never how to configure it."""
    if settings.on_spaces:
        return "sign in with Hugging Face (the button at the top) to review and vote."
    if settings.logins:
        return ("[sign in](/auth/login) with the name and password the study's organisers gave you to review and "
                "vote.")
    return "this server takes no reviews or votes (it has no logins); restoring murals works for everyone."


def visitor_reason(settings: AppSettings, what: str) -> str:
    """Why a control is disabled for a visitor, next to it: ``what`` names the action ("review", "vote")."""
    if settings.on_spaces:
        return f"Sign in with Hugging Face (at the top of the page) to {what}."
    if settings.logins:
        return f"[Sign in](/auth/login) to {what}."
    return f"This server has no logins, so nobody can {what} here."


def _when_the_page_loads(outputs: list, updates) -> None:
    """Run ``updates(user) -> [one gr.update per output]`` for whoever opens the page (the user comes from the server
    side of the request, never from the page)."""

    def gate(request: gr.Request, profile: gr.OAuthProfile | None = None):
        return updates(current_user(request, profile))

    gr.on(None, gate, None, outputs, api_name=False, show_progress="hidden")


def gate_for_visitors(controls: list, visitor_notes: list[gr.Markdown]) -> None:
    """When the page loads: ``controls`` (built disabled) are enabled for a signed-in user; for a visitor they stay
    disabled and ``visitor_notes`` (built hidden, holding the reason) appear.  The handlers check again."""

    def updates(user: str) -> list:
        return ([gr.update(interactive=bool(user)) for _ in controls]
                + [gr.update(visible=not user) for _ in visitor_notes])

    _when_the_page_loads([*controls, *visitor_notes], updates)


def admin_reason(settings: AppSettings, user: str, what: str) -> str:
    """Why an admin-only control is disabled for ``user``, to show beside it ("" for an admin); ``what`` names the
    action ("export votes").  Says who may, and how a visitor who is one signs in; never how to configure it."""
    if user and user in settings.admins:
        return ""
    if user:
        return f"Only the study's admins can {what}."
    if settings.on_spaces:
        return (f"Only the study's admins can {what}: sign in with Hugging Face (at the top of the page) if you are "
                "one.")
    if settings.logins:
        return f"Only the study's admins can {what}: [sign in](/auth/login) if you are one."
    return visitor_reason(settings, what)


def gate_for_admins(settings: AppSettings, gated: list[tuple]) -> None:
    """When the page loads: each ``(control, note, what)`` of ``gated`` (control built disabled, note built hidden)
    is enabled for an admin; for anyone else the control stays disabled and its note shows :func:`admin_reason`.
    The handlers check again."""

    def updates(user: str) -> list:
        shown = []
        for _, _, what in gated:
            why = admin_reason(settings, user, what)
            shown += [gr.update(interactive=not why), gr.update(value=why, visible=bool(why))]
        return shown

    _when_the_page_loads([part for control, note, _ in gated for part in (control, note)], updates)


def study_note(settings: AppSettings) -> str:
    """What the study is and how to join it, for visitors (Markdown)."""
    return f"{STUDY} {how_to_join(settings)}"


def shown_note(note: str) -> str:
    """A status note as the page shows it: every server path reduced to its last component.  The notes are written
    without paths; this catches what an error from a library may still name (a file, a cache folder)."""
    return _SERVER_PATH.sub(lambda match: match.group(0).rstrip("/").rsplit("/", 1)[-1], note)


def header(context: "AppContext", user: str) -> str:
    """The line at the top of the page (Markdown): who is signed in, or how a visitor joins the study.  Admins also
    get the server's status notes (collections imported, backups, restorations that failed), never with a server
    path; nobody else does, as nothing in them is theirs to act on."""
    settings = context.settings
    if not user:
        return f"Not signed in: {how_to_join(settings)}"
    line = f"Signed in as **{user}**" + (" (admin)" if context.is_admin(user) else "")
    line += "" if settings.on_spaces else " · [Sign out](/auth/logout)"
    if context.is_admin(user):
        line += "".join(f"\n\n_{shown_note(note)}_" for note in context.status_notes())
    return line
