"""Who is asking: identity always comes from the server side of a request, never from a form field.

- On a Hugging Face Space with ``hf_oauth: true``: the Hugging Face account (Gradio's OAuth session).
- Locally: logins from ``MURALXGAN_LOGINS`` / ``MURALXGAN_LOGINS_FILE``, checked by ``POST /auth/login``, which sets
  an HMAC-signed, HTTP-only cookie.  Gradio's ``auth_dependency`` reads that cookie for every request; a request
  without a valid cookie is anonymous (the empty name): anonymous visitors can look but not vote or review.
"""


import hashlib
import hmac
import html
import time

from mural_inpaint.app.settings import AppSettings, password_matches

COOKIE = "muralxgan-login"
LOGIN_DAYS = 14


def sign(name: str, secret: bytes, now: float | None = None) -> str:
    """Cookie value ``name|expiry|signature`` (expiry in Unix seconds)."""
    expires = int((now or time.time()) + LOGIN_DAYS * 86400)
    payload = f"{name}|{expires}"
    signature = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}|{signature}"


def verify(cookie: str | None, secret: bytes, now: float | None = None) -> str:
    """The signed-in name, or "" for a missing, forged or expired cookie."""
    if not cookie or cookie.count("|") < 2:
        return ""
    payload, _, signature = cookie.rpartition("|")
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    name, _, expires = payload.rpartition("|")
    if not hmac.compare_digest(signature, expected) or not expires.isdigit() or int(expires) < (now or time.time()):
        return ""
    return name


def user_from_cookie(settings: AppSettings):
    """Gradio ``auth_dependency``: the signed-in name, "" when anonymous (never None: nobody is locked out)."""

    def dependency(request) -> str:
        name = verify(request.cookies.get(COOKIE), settings.secret)
        return name if name in settings.logins else ""

    return dependency


def current_user(request, profile=None) -> str:
    """The name behind a Gradio event: Hugging Face profile on Spaces, else the signed cookie ("" = anonymous)."""
    if profile is not None and getattr(profile, "username", None):
        return profile.username
    return (getattr(request, "username", None) or "") if request is not None else ""


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in: MuralXGAN</title>
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
label,input,button{{display:block;width:100%;margin:.4rem 0}}input{{padding:.5rem}}button{{padding:.6rem}}
.error{{color:#a00}}</style></head><body><h1>Sign in to MuralXGAN</h1>{message}
<form method="post" action="{action}"><label>Name <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form><p><a href="{home}">Back to the app without signing in</a></p>
</body></html>"""


def add_login_routes(app, settings: AppSettings, prefix: str = "/auth") -> None:
    """``GET/POST {prefix}/login`` and ``GET {prefix}/logout`` on a FastAPI app (local logins)."""
    from fastapi import Form, Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    def page(message: str = "", status: int = 200) -> HTMLResponse:
        body = _PAGE.format(message=message, action=f"{prefix}/login", home="/")
        return HTMLResponse(body, status_code=status)

    @app.get(f"{prefix}/login")
    def login_form() -> HTMLResponse:
        if not settings.logins:
            return page('<p class="error">No logins are configured on this server (set MURALXGAN_LOGINS or '
                        "MURALXGAN_LOGINS_FILE).</p>", 404)
        return page()

    @app.post(f"{prefix}/login")
    def login(request: Request, username: str = Form(...), password: str = Form(...)):
        name = username.strip()
        stored = settings.logins.get(name)
        if stored is None or not password_matches(stored, password):
            return page(f'<p class="error">Wrong name or password for {html.escape(name)!s}.</p>', 401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, sign(name, settings.secret), max_age=LOGIN_DAYS * 86400, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
        return response

    @app.get(f"{prefix}/logout")
    def logout() -> RedirectResponse:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response
