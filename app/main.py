"""Entry point of the MIND dashboard: ``streamlit run app/main.py`` (or ``mind app``).

Registers the pages in ``pages/`` with ``st.navigation`` (so Streamlit does not auto-discover anything else)
and runs the chosen one (the first page also answers at its own address, ``/runs``). The runs folder comes from ``MIND_RUNS_DIR`` or ``-- --runs-dir X``. First
:func:`app.access.gate` checks the access token: a session without it gets the login prompt as its only page and
no page script runs. A read-only dashboard (``MIND_APP_READ_ONLY``) does not register the Launch page.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # make the ``app`` package importable from the page scripts
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import access, settings, ui  # noqa: E402

st.set_page_config(page_title="MIND dashboard", page_icon=":material/psychology:", layout="wide")
shown = access.visible_pages(ui.PAGES, settings.read_only())
if access.gate([ui.ROOT_URL, *(u for *_, u in shown)]):  # the login page answers at "/" and every page's address
    if settings.read_only():
        st.sidebar.caption(":material/visibility: Read-only dashboard: launching, stopping, evaluating and exporting "
                           "are switched off.")
    pages = [st.Page(ui.page_path(f), title=t, icon=i, url_path=ui.ROOT_URL if n == 0 else u, default=(n == 0))
             for n, (f, t, i, u) in enumerate(shown)]
    f, t, i, u = shown[0]  # the default page again, hidden, at its own address ("/runs" as well as "/")
    pages.append(st.Page(ui.page_path(f), title=t, icon=i, url_path=u, visibility="hidden"))
    st.navigation(pages).run()
