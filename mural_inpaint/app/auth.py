"""Who is asking: identity always comes from the server side of a request, never from a form field.

- On a Hugging Face Space with ``hf_oauth: true``: the Hugging Face account (Gradio's OAuth session).
- Locally: logins from ``MURALXGAN_LOGINS`` / ``MURALXGAN_LOGINS_FILE``, checked by ``POST /auth/login``, which opens
  a server-side session (a row in the store) and sets an HMAC-signed, HTTP-only cookie naming it.  Gradio's
  ``auth_dependency`` looks the session up for every request; a request without a live session is anonymous (the
  empty name): anonymous visitors can look but not vote or review.  ``/auth/logout`` and expiry end the session, so a
  copied cookie stops working too.
- Failed logins are counted per name and per client address over a window; past the limit the login answers
  HTTP 429 (with ``Retry-After``) without checking the password.
"""


import hashlib
import hmac
import html
import threading
import time
from collections import deque

from mural_inpaint.app.settings import AppSettings, password_matches

COOKIE = "muralxgan-login"
LOGIN_DAYS = 14  # the default of MURALXGAN_SESSION_DAYS
ADDRESS_FACTOR = 4  # failed logins allowed per client address: this many times those per name


def sign(name: str, secret: bytes, now: float | None = None, days: float = LOGIN_DAYS) -> str:
    """Cookie value ``name|expiry|signature`` (expiry in Unix seconds); ``name`` is a session token in the cookie."""
    expires = int((now or time.time()) + days * 86400)
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


def user_from_cookie(settings: AppSettings, store):
    """Gradio ``auth_dependency``: the name of the cookie's live session, "" when anonymous (never None: nobody is
    locked out).  A forged cookie fails the signature before the store is asked."""

    def dependency(request) -> str:
        name = store.session_user(verify(request.cookies.get(COOKIE), settings.secret))
        return name if name in settings.logins else ""

    return dependency


class LoginLimiter:
    """Failed logins per key (``name:...`` and ``address:...``) within a sliding window, in this process's memory."""

    def __init__(self, per_name: int, per_address: int, window_s: float, max_keys: int = 100_000):
        self.per_name, self.per_address, self.window_s, self.max_keys = per_name, per_address, window_s, max_keys
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def wait_s(self, name: str, address: str, now: float | None = None) -> float:
        """Seconds until a login for ``name`` from ``address`` may be tried again (0: now)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        with self._lock:
            for key, limit in ((f"name:{name}", self.per_name), (f"address:{address}", self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + self.window_s - now)
        return wait

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) >= self.max_keys:  # bounded memory: drop keys with nothing left in the window
                for key in [k for k, times in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[key]
            for key in (f"name:{name}", f"address:{address}"):
                self._failures[key] = self._recent(key, now)
                self._failures[key].append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(f"name:{name}", None)


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


def add_login_routes(app, settings: AppSettings, store, prefix: str = "/auth") -> LoginLimiter:
    """``GET/POST {prefix}/login`` and ``GET/POST {prefix}/logout`` on a FastAPI app (local logins); returns the
    limiter of failed logins."""
    from fastapi import Form, Request
    from fastapi.responses import HTMLResponse, RedirectResponse

    limiter = LoginLimiter(settings.login_attempts, ADDRESS_FACTOR * settings.login_attempts,
                           settings.login_window_minutes * 60)

    def page(message: str = "", status: int = 200, headers: dict | None = None) -> HTMLResponse:
        body = _PAGE.format(message=message, action=f"{prefix}/login", home="/")
        return HTMLResponse(body, status_code=status, headers=headers)

    @app.get(f"{prefix}/login")
    def login_form() -> HTMLResponse:
        if not settings.logins:
            return page('<p class="error">No logins are configured on this server (set MURALXGAN_LOGINS or '
                        "MURALXGAN_LOGINS_FILE).</p>", 404)
        return page()

    @app.post(f"{prefix}/login")
    def login(request: Request, username: str = Form(...), password: str = Form(...)):
        name = username.strip()
        address = request.client.host if request.client else "unknown"
        wait = limiter.wait_s(name, address)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return page(f'<p class="error">Too many failed sign-ins: try again in about {minutes} minute'
                        f'{"s" if minutes > 1 else ""}.</p>', 429, {"Retry-After": str(int(wait) + 1)})
        stored = settings.logins.get(name)
        if stored is None or not password_matches(stored, password):
            limiter.failed(name, address)
            return page(f'<p class="error">Wrong name or password for {html.escape(name)!s}.</p>', 401)
        limiter.succeeded(name)
        lifetime = settings.session_days * 86400
        token, _ = store.create_session(name, lifetime)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, sign(token, settings.secret, days=settings.session_days), max_age=int(lifetime),
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    def logout(request: Request) -> RedirectResponse:
        store.revoke_session(verify(request.cookies.get(COOKIE), settings.secret))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    app.add_api_route(f"{prefix}/logout", logout, methods=["GET", "POST"])
    return limiter
