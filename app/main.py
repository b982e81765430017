"""Entry point of the MIND dashboard: ``streamlit run app/main.py`` (or ``mind app``).

Registers the pages in ``pages/`` with ``st.navigation`` (so Streamlit does not auto-discover anything else)
and runs the chosen one. The runs folder comes from ``MIND_RUNS_DIR`` or ``-- --runs-dir X``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # make the ``app`` package importable from the page scripts
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import ui  # noqa: E402

st.set_page_config(page_title="MIND dashboard", page_icon=":material/psychology:", layout="wide")
pages = [st.Page(ui.page_path(f), title=t, icon=i, url_path=u, default=(n == 0))
         for n, (f, t, i, u) in enumerate(ui.PAGES)]
st.navigation(pages).run()
