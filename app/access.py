"""Who may use the dashboard, what they may do, and which files the Launch form may name.

Three rules, set by ``mind app`` (see :mod:`app.settings` for how they reach the server):

* **Token.** When ``MIND_APP_TOKEN`` is set, :func:`gate` lets a browser session in only after it presented the
  token, as ``?token=...`` in the URL or in the login box. Until then the session's only page is the login prompt:
  no page script runs, so nothing lists runs, renders run data or accepts an action. The session remembers a
  SHA-256 digest of the token (``st.session_state``), compared with :func:`hmac.compare_digest` on every run,
  and the token is removed from the address bar. A sign-in also sets a cookie (:data:`COOKIE`, 7 days, path ``/``,
  ``SameSite=Strict``) that survives a reload: its value is an expiry time and an HMAC-SHA256 of it keyed by the
  token (:func:`cookie_value`), never the token itself; Streamlit reads it from the WebSocket request
  (``st.context.cookies``), and a new token makes every old cookie worthless. A server bound to a non-loopback address without a token
  (``streamlit run`` with ``--server.address 0.0.0.0``, or with no address set, which Streamlit binds to every
  interface; app/.streamlit/config.toml sets 127.0.0.1 for ``streamlit run app/main.py`` from any folder) shows a
  refusal instead of the dashboard.
* **Read-only.** :func:`require_actions` raises :class:`ReadOnlyError` when ``mind app --read-only`` is on; the
  job functions in :mod:`app.jobs` call it before Launch, Stop, Evaluate or Export do anything.
* **Folders.** :func:`launch_dataset` and :func:`launch_student` accept a dataset file or model folder only when its
  real path (``Path.resolve``: ``..`` and symlinks followed) lies inside the runs folder or an ``--allow-dir``
  folder. The embedded names (``demo``, ``tiny``, ``smollm2-135m``) and Hugging Face ids that name no existing path
  stay allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from mind.hosts import is_loopback
from mind.errors import MindError

from app import settings

SESSION_KEY = "_mind_access_digest"  # st.session_state key: SHA-256 hex digest of the token this session presented
COOKIE = "mind_access"  # the sign-in cookie: "<expiry unix seconds>.<HMAC-SHA256(token, expiry) hex>"
COOKIE_MAX_AGE_S = 7 * 24 * 3600
_COOKIE_PENDING = "_mind_access_cookie_pending"  # session flag: set the cookie on this run's page
ACTION_PAGES = ("2_Launch.py",)  # pages hidden in read-only mode
FAILED_LOGIN_DELAY_S = 1.0
_HF_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(/[A-Za-z0-9][A-Za-z0-9_.\-]*)?")


class ReadOnlyError(MindError):
    """An action (Launch, Stop, Evaluate, Export) on a dashboard started with ``--read-only``."""


class PathPolicyError(MindError):
    """A dataset file or model folder outside the folders the dashboard may read."""


# --------------------------------------------------------------------------------------------- token


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(given: str | None, token: str) -> bool:
    """True when ``given`` is the token (constant-time comparison of the digests)."""
    if not given or not token:
        return False
    return hmac.compare_digest(digest(given), digest(token))


def cookie_value(token: str, now: float | None = None, max_age_s: int = COOKIE_MAX_AGE_S) -> str:
    """The sign-in cookie for ``token``: its expiry and an HMAC of it keyed by the token (the token is not in it)."""
    expiry = int((time.time() if now is None else now) + max_age_s)
    mac = hmac.new(token.encode("utf-8"), f"mind-app-cookie|{expiry}".encode(), hashlib.sha256).hexdigest()
    return f"{expiry}.{mac}"


def cookie_matches(value: str | None, token: str, now: float | None = None) -> bool:
    """True when ``value`` is an unexpired sign-in cookie made with ``token`` (constant-time comparison)."""
    if not value or not token or not isinstance(value, str) or value.count(".") != 1:
        return False
    expiry, mac = value.split(".")
    if not expiry.isdigit() or int(expiry) < (time.time() if now is None else now):
        return False
    good = hmac.new(token.encode("utf-8"), f"mind-app-cookie|{expiry}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, good)


def _cookie_script(value: str) -> str:
    """A script that stores the sign-in cookie in the browser (``st.html`` runs it in the page itself)."""
    return (f"<script>document.cookie = '{COOKIE}={value}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; SameSite=Strict'"
            " + (location.protocol === 'https:' ? '; Secure' : '');</script>")


def _signed_in(st, token: str) -> None:
    st.session_state[SESSION_KEY] = digest(token)
    st.session_state[_COOKIE_PENDING] = True


def _set_cookie_once(st, token: str) -> None:
    if st.session_state.pop(_COOKIE_PENDING, False):
        st.html(_cookie_script(cookie_value(token)), unsafe_allow_javascript=True)


def _cookie(st) -> str | None:
    try:
        return st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (AppTest, bare mode): no cookie
        return None


def exposed_without_token(address: str | None, token: str | None) -> bool:
    """True when the server can be reached from other machines and no token protects it.

    ``address`` is Streamlit's ``server.address``: unset means every interface; a ``unix://`` socket is local.
    """
    if token:
        return False
    if not address:
        return True
    return not (address.startswith("unix://") or is_loopback(address))


def gate(url_paths: Sequence[str]) -> bool:
    """Run by app/main.py before ``st.navigation``. True when this browser session may see the dashboard.

    Otherwise it shows the login prompt as the only page (registered under every page's URL path, so the page
    the user asked for opens after a successful login) and returns False.
    """
    import streamlit as st

    token = settings.access_token()
    address = st.get_option("server.address")
    if exposed_without_token(address, token):
        where = address or "unset, so every interface"
        st.error(f"This dashboard is reachable from other machines (server.address: {where}) and has no access "
                 "token, so it shows nothing. Start it with `mind app --host ADDRESS`, which makes a token, or set "
                 "MIND_APP_TOKEN.")
        st.stop()
    if token is None:
        return True
    held = st.session_state.get(SESSION_KEY)
    if isinstance(held, str) and hmac.compare_digest(held, digest(token)):
        _set_cookie_once(st, token)
        return True
    if cookie_matches(_cookie(st), token):  # signed in earlier in this browser (a reload, a new tab)
        st.session_state[SESSION_KEY] = digest(token)
        if "token" in st.query_params:
            del st.query_params["token"]
        return True
    failed = False
    if "token" in st.query_params:
        given = st.query_params.get("token")
        del st.query_params["token"]  # never leave the token in the address bar (projectors, screenshots)
        if token_matches(given, token):
            _signed_in(st, token)
            _set_cookie_once(st, token)
            return True
        failed = True
        time.sleep(FAILED_LOGIN_DELAY_S)

    def login() -> None:
        _login_prompt(token, failed)

    pages = [st.Page(login, title="Sign in", icon=":material/lock:", url_path=u or "login", default=(n == 0))
             for n, u in enumerate(dict.fromkeys(url_paths))]
    st.navigation(pages, position="hidden").run()
    return False


def _login_prompt(token: str, failed: bool) -> None:
    import streamlit as st

    st.title("MIND dashboard")
    st.write("This dashboard is shared with an access token. Open the link `mind app` printed when it started "
             "(it ends in `?token=...`), or paste the token here.")
    with st.form("mind_login", clear_on_submit=True):
        given = st.text_input("Access token", type="password", key="mind_login_token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if token_matches(given.strip(), token):
            _signed_in(st, token)
            st.rerun()
        time.sleep(FAILED_LOGIN_DELAY_S)
        failed = True
    if failed:
        st.error("That token is not this dashboard's token. Copy it again from the terminal running `mind app`.")


# --------------------------------------------------------------------------------------------- read-only


def require_actions(what: str = "this action") -> None:
    """Raise :class:`ReadOnlyError` when the dashboard is read-only (called by every job that changes something)."""
    if settings.read_only():
        raise ReadOnlyError(f"{what}: this dashboard is read-only (mind app --read-only); run the command from a "
                            "terminal, or restart the dashboard without --read-only")


def visible_pages(pages: Sequence[tuple], read_only: bool) -> list[tuple]:
    """The page table without the action pages (Launch) when read-only."""
    return [p for p in pages if not (read_only and p[0] in ACTION_PAGES)]


# --------------------------------------------------------------------------------------------- folders


def launch_roots() -> list[Path]:
    """Folders the Launch form may read from: the runs folder first (relative paths start there), then --allow-dir."""
    out: list[Path] = []
    for r in (settings.runs_dir(), *settings.allowed_dirs()):
        r = Path(r).resolve()
        if r not in out:
            out.append(r)
    return out


def describe_roots(roots: Sequence[Path]) -> str:
    more = f" or an --allow-dir folder ({', '.join(str(r) for r in roots[1:])})" if len(roots) > 1 else ""
    return f"the runs folder ({roots[0]}){more}"


def _check_text(value: str, what: str) -> None:
    if not value:
        raise PathPolicyError(f"{what}: empty; give a path inside the runs folder or an --allow-dir folder")
    if value.startswith("-") or any(c in value for c in "\x00\n\r"):
        raise PathPolicyError(f"{what} {value!r}: not a path; give a path inside the runs folder or an --allow-dir folder")


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(r) for r in roots)


def _checked(path: Path, shown: str, what: str, roots: Sequence[Path]) -> Path:
    """``path``'s real location when it lies inside ``roots`` and exists; else a one-line PathPolicyError.

    Containment is tested first (on the path with every existing symlink and ``..`` resolved), so a refusal
    says nothing about whether a file outside the allowed folders exists.
    """
    where = describe_roots(roots)
    try:
        loose = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise PathPolicyError(f"{what} {shown!r}: cannot be resolved (a symlink loop?); give a plain path") from None
    if not _inside(loose, roots):
        raise PathPolicyError(f"{what} {shown!r}: {loose} is outside {where}; move it there, or restart the "
                              "dashboard with --allow-dir FOLDER")
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        raise PathPolicyError(f"{what} {shown!r}: no such file or folder in {where} (relative paths start at the "
                              "runs folder)") from None
    if not _inside(real, roots):  # changed between the two calls
        raise PathPolicyError(f"{what} {shown!r}: {real} is outside {where}")
    return real


def _as_path(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def launch_dataset(value: str, roots: Sequence[Path]) -> str:
    """``demo``, or the real path of an existing ``.jsonl`` file inside ``roots`` (``roots[0]``: the runs folder)."""
    value = (value or "").strip()
    if value == "demo":
        return value
    _check_text(value, "dataset")
    real = _checked(_as_path(value, roots[0]), value, "dataset", roots)
    if not real.is_file() or real.suffix != ".jsonl":
        raise PathPolicyError(f"dataset {value!r}: {real} is not a .jsonl file; choose a multi-perspective JSONL file")
    return str(real)


def launch_student(value: str, roots: Sequence[Path], embedded: Sequence[str] = ("tiny", "smollm2-135m"),
                   search: Sequence[Path] = ()) -> str:
    """An embedded student name, a Hugging Face id, or the real path of a model folder inside ``roots``.

    A Hugging Face id (``name`` or ``owner/name``) stays a hub id only when no such relative path exists in the
    runs folder or in ``search`` (the server's and the trainer's working folders), since ``from_pretrained``
    would load a local folder of that name instead.
    """
    value = (value or "").strip()
    if value in embedded:
        return value
    _check_text(value, "student")
    if _HF_ID_RE.fullmatch(value):
        found = [b / value for b in (roots[0], *search) if os.path.lexists(b / value)]
        if not found:
            return value
        path = found[0]
    else:
        path = _as_path(value, roots[0])
    real = _checked(path, value, "student", roots)
    if not real.is_dir():
        raise PathPolicyError(f"student {value!r}: {real} is not a folder; give a model folder or a model id (org/name)")
    return str(real)
