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

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.settings import AppSettings

logger = logging.getLogger("muralxgan.app")

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


def gate_for_visitors(controls: list, visitor_notes: list[gr.Markdown]) -> None:
    """When the page loads: ``controls`` (built disabled) are enabled for a signed-in user; for a visitor they stay
    disabled and ``visitor_notes`` (built hidden, holding the reason) appear.  The handlers check again."""

    def gate(request: gr.Request, profile: gr.OAuthProfile | None = None):
        allowed = bool(current_user(request, profile))
        return ([gr.update(interactive=allowed) for _ in controls]
                + [gr.update(visible=not allowed) for _ in visitor_notes])

    gr.on(None, gate, None, [*controls, *visitor_notes], api_name=False, show_progress="hidden")


def study_note(settings: AppSettings) -> str:
    """What the study is and how to join it, for visitors (Markdown)."""
    return f"{STUDY} {how_to_join(settings)}"
