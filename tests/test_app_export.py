"""AppTest of the Runs page's Export button on a real tiny run: it starts `mind export` as a subprocess into
<run>/export/, then offers the model card; a run without a checkpoint gets a caption, not the button; a
read-only dashboard shows no button and refuses the action server-side."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from conftest import patient
from test_app_runs import ROOT, TRAIN_STEPS, copy_run, roots  # noqa: F401  (roots is a fixture)

from app import jobs, loading, settings, ui
from mind.errors import MindError

MAIN = str(ROOT / "app" / "main.py")


def runs_page_with_first_row_selected() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=patient(60))
    at.session_state["runs_table"] = {"selection": {"rows": [0], "columns": []}}  # a click on the first row
    at.run()
    assert not at.exception, [str(e.value) for e in at.exception]
    return at


def click_export_and_wait(at: AppTest, run) -> int:
    at.button(key="export_run").click().run()
    assert not at.exception, [str(e.value) for e in at.exception]
    job = ui.registry().get("export", run)
    assert job is not None and job.argv[3:5] == ["export", "--run"] and job.argv[-3:] == ["--out", str(run / "export"),
                                                                                      "--force"]
    at.run()  # a rerun while it works (the first render drew the button before the click started the job)
    if job.running:  # still running after the rerun, so running during it
        assert at.button(key="export_run").disabled  # no second export while one runs
        assert any("Exporting" in str(i.value) for i in at.info)
    code = job.proc.wait(600)
    at.run()
    assert not at.exception, [str(e.value) for e in at.exception]
    return code


@pytest.mark.slow
def test_export_button_writes_the_folder_and_offers_the_model_card(roots):
    run = copy_run(roots, "alpha")
    at = runs_page_with_first_row_selected()
    assert at.button(key="export_run").label == "Export"
    assert click_export_and_wait(at, run) == 0

    out = run / "export"
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "README.md"} <= {
        p.name for p in out.iterdir()}
    assert (run / "export.log.txt").read_text().startswith(f"$ mind export --run {run} --out {out} --force")
    assert [s.value for s in at.success] == [f"Exported step {TRAIN_STEPS} (merged) to `{out}`."]
    assert [e.label for e in at.expander] == ["Model card (README.md)"]
    card = at.expander[0].markdown[0].value
    assert card.startswith("# alpha: a MIND-distilled student") and "library_name:" not in card  # no front matter
    assert "## Evaluation" in card and "| `beta` | 0.7 |" in card and "<details>" not in card
    assert card.split("## Training")[0] in (out / "README.md").read_text()  # the card's own text, as written
    assert "The run trained on 8 problems with 64 rationales" in card

    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(out).config.model_type == "llama"
    assert [p.name for p in loading.discover()] == ["alpha"]  # the export folder is not mistaken for a run
    fresh = runs_page_with_first_row_selected()  # a new session finds the export and offers it again
    assert fresh.button(key="export_run").label == "Export again"
    assert [e.label for e in fresh.expander] == ["Model card (README.md)"]


@pytest.mark.slow
def test_a_run_without_checkpoint_offers_no_export_and_mind_export_says_why_in_one_line(roots):
    """A run with no weights (a shipped run beyond seed 0) gets a caption instead of the button; an export started
    anyway (a stale session) ends with mind export's one-line error and writes nothing."""
    run = copy_run(roots, "no-ckpt")
    shutil.rmtree(run / "checkpoints")
    at = runs_page_with_first_row_selected()
    assert not [b for b in at.button if b.key == "export_run"]
    assert any("has no checkpoint to export" in str(c.value) for c in at.caption)
    job = ui.registry().start_export(run, run / "export")
    assert job.proc.wait(600) == 2
    from app import exporting

    error = exporting.last_error(exporting.log_text(run, 200))
    assert "no finished checkpoint to export" in error and "\n" not in error
    assert not (run / "export").exists()


@pytest.mark.slow
def test_read_only_dashboard_has_no_export_button_and_refuses_the_action(roots, monkeypatch):
    run = copy_run(roots, "shown")
    monkeypatch.setenv(settings.ENV_READ_ONLY, "1")
    at = runs_page_with_first_row_selected()
    assert not [b for b in at.button if b.key == "export_run"]
    assert any("Read-only dashboard: export from a terminal" in str(c.value) for c in at.caption)
    with pytest.raises(MindError, match="read-only"):
        jobs.JobRegistry().start_export(run)
    assert not (run / "export").exists() and not (run / "export.log.txt").exists()
