"""The MIND dashboard (Streamlit). Entry: ``app/main.py``; pages live in ``pages/``; this package holds the
importable, tested parts: where runs are (:mod:`app.settings`), loading and caching (:mod:`app.loading`),
Plotly figures (:mod:`app.charts`), the MetaNet what-if (:mod:`app.whatif`), launched jobs (:mod:`app.jobs`),
latent maps (:mod:`app.latent`), evaluation tables (:mod:`app.evaluation`) and shared widgets (:mod:`app.ui`)."""
