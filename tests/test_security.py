"""Security defaults: run names cannot escape the runs folder, nothing is unpickled, the dashboard binds to
localhost with XSRF protection, API keys never reach run files, logs or the dashboard's pages, and bad input
through the CLI is a one-line ``error:`` with exit code 2 (no traceback). Sharing the dashboard (token,
read-only, allowed folders) is tested in test_app_access.py and test_browser_access.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_run_finished
from mind.errors import RunDirError
from mind.run import safe_run_path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "mini.jsonl"


# --------------------------------------------------------------------------------------------- run names


@pytest.mark.parametrize("name", ["../x", "..", "a/../../b", "/etc", "/tmp/x", "a/b", "a\x00b", "a\nb", "run\n",
                                  "", ".", ".hidden", "-rf", "~", "~root", "a" * 129, "x..y", "C:\\x", "a\\..\\b"])
def test_unsafe_run_names_are_refused(tmp_path, name):
    with pytest.raises(RunDirError) as info:
        safe_run_path(tmp_path, name)
    assert "\n" not in str(info.value) and "run name" in str(info.value)


def test_symlink_out_of_the_runs_folder_is_refused(tmp_path):
    root, outside = tmp_path / "runs", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "evil").symlink_to(outside)
    (root / "alias").symlink_to(root / "real")
    with pytest.raises(RunDirError, match="resolves outside"):
        safe_run_path(root, "evil")
    assert safe_run_path(root, "alias") == (root / "real").resolve()  # a link that stays inside is fine


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=40))
def test_any_accepted_name_is_a_direct_child_of_the_root(tmp_path_factory, name):
    root = tmp_path_factory.getbasetemp() / "runs_root"
    root.mkdir(exist_ok=True)
    try:
        p = safe_run_path(root, name)
    except RunDirError as exc:
        assert "\n" not in str(exc)
        return
    assert p.parent == root.resolve() and p.name == name


def test_dashboard_launch_uses_safe_run_path_and_no_shell():
    jobs = (ROOT / "app" / "jobs.py").read_text()
    assert "safe_run_path(" in jobs
    assert "Popen(argv" in jobs and "shell=True" not in jobs


# --------------------------------------------------------------------------------------------- no unpickling

UNSAFE = [
    (re.compile(r"\bimport\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b|\bfrom\s+(c?pickle|dill|joblib)\b"), "pickle-like import"),
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"\bjoblib\.load\("), "joblib.load"),
    (re.compile(r"\bread_pickle\("), "pandas.read_pickle"),
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"\byaml\.(unsafe_)?load\((?![^)]*SafeLoader)"), "yaml.load without SafeLoader"),
    (re.compile(r"shell\s*=\s*True"), "subprocess with shell=True"),
    (re.compile(r"\bos\.system\("), "os.system"),
    (re.compile(r"(?<![\w.])(eval|exec)\("), "eval/exec"),
]


def _sources():
    for folder in ("mind", "app", "pages"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_code_unpickles_or_shells_out():
    found, scanned = [], 0
    for f in _sources():
        scanned += 1
        text = f.read_text(encoding="utf-8")
        for pattern, what in UNSAFE:
            for m in pattern.finditer(text):
                found.append(f"{f.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: {what}")
        for m in re.finditer(r"torch\.load\(", text):
            call = text[m.start(): text.find(")", m.end()) + 1]
            if "weights_only=True" not in call:
                found.append(f"{f.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}: torch.load without weights_only=True")
    print(f"scanned {scanned} source files")
    assert scanned > 30 and found == [], found


# --------------------------------------------------------------------------------------------- dashboard defaults


def test_mind_app_binds_localhost_and_keeps_xsrf(tmp_path):
    from mind.cli import build_parser
    from mind.commands.app import command

    args = build_parser().parse_args(["app", "--runs-dir", str(tmp_path)])
    assert args.host == "127.0.0.1"
    argv, env = command(args.port, args.runs_dir, args.host)
    opts = dict(zip(argv[::1], argv[1::1]))
    assert opts["--server.address"] == "127.0.0.1"
    assert opts["--server.enableXsrfProtection"] == "true"
    assert "--server.enableXsrfProtection=false" not in argv and env["MIND_RUNS_DIR"] == str(tmp_path.resolve())
    for bad in ("-h", "", "0.0.0.0 --x", "a b"):
        with pytest.raises(Exception) as info:
            command(8501, tmp_path, bad)
        assert type(info.value).__name__ == "ConfigError"
    for cfg in ROOT.rglob(".streamlit/config.toml"):  # a project config must not switch the protection off
        if ".venv" not in cfg.parts:
            text = cfg.read_text()
            assert not re.search(r"enableXsrfProtection\s*=\s*false", text) and not re.search(r'address\s*=\s*"0\.0\.0\.0"', text)


# --------------------------------------------------------------------------------------------- CLI and secrets

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _mind(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mind", *map(str, args)], capture_output=True, text=True,
                          env=env or ENV, timeout=600)


@pytest.mark.slow
def test_planted_api_key_never_reaches_files_logs_or_the_dashboard(tmp_path, monkeypatch):
    """The commands that read a key (`mind generate` with an OpenAI-protocol teacher and an LLM judge, against the
    loopback server) and `mind train` on their output: the key reaches the server and nothing else, and the
    dashboard's pages, rendered with the key in the server's environment, never send it to the browser."""
    from openai_server import FakeTeacherServer, make_problems
    from test_app_access import dump
    from test_app_pages import PAGE, open_page

    key = "sk-planted-" + os.urandom(12).hex()
    planted = {"OPENAI_API_KEY": key, "HF_TOKEN": key + "-hf", "ANTHROPIC_API_KEY": key + "-an"}
    env = {**ENV, **planted}
    probs = make_problems(3)
    src, data, runs = tmp_path / "in.jsonl", tmp_path / "data" / "gen.jsonl", tmp_path / "runs"
    src.write_text("".join(json.dumps(p) + "\n" for p in probs))
    with FakeTeacherServer(probs) as srv:
        gen = _mind("generate", "--dataset", src, "--out", data, "--teacher", "openai:teacher-model", "--base-url",
                    srv.url, "--judge", "llm:openai:judge-model", "--easy-keep", "1.0", "--timeout", "10",
                    "--no-progress", env=env)
        assert gen.returncode == 0, gen.stderr[-2000:]
        assert srv.auth == {f"Bearer {key}"}  # the key was really read, by the teacher and by the judge
        assert srv.judge_requests == 3 * 8 and sum(srv.served.values()) == 3 * 8  # 8 perspectives x 3 problems
    train = _mind("train", "--data", data, "--student", "tiny", "--steps", 2, "checkpoint_every=1",
                  "--out", runs / "keyrun", env=env)
    assert_run_finished(runs / "keyrun", 2, train)
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert {"gen.jsonl", "gen.cache.jsonl", "gen.card.json", "steps.jsonl", "config.json"} <= {f.name for f in files}
    leaks = [str(f) for f in files if b"sk-planted-" in f.read_bytes()]
    assert leaks == [] and all("sk-planted-" not in p.stdout + p.stderr for p in (gen, train))

    # the dashboard, as a server started from this environment would render it
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MIND_RUNS_DIR", str(runs))
    monkeypatch.setenv("MIND_CACHED_RUNS", str(tmp_path / "no-cached-runs"))
    sent = 0
    for slug in PAGE:
        at = open_page(slug, mind_run=str(runs / "keyrun"))
        assert not at.exception, (slug, [e.value for e in at.exception])
        payload = dump(at)
        assert b"sk-planted-" not in payload, slug
        sent += len(payload)
    assert sent > 50_000  # the pages did render the run (tables, charts)
    print(f"grepped {len(files)} files, the commands' output and {sent} bytes of {len(PAGE)} rendered pages "
          "for the planted key: none")


CLI_CASES = [
    (["beta=0"], "beta"), (["lam=nan"], "lam"), (["tau=-1"], "tau"), (["steps=-3"], "steps"),
    (["perspectives=formal"], "perspectives"), (["--method", "mind", "method=magic"], "method"),
    (["lr=inf"], "lr"), (["g=1"], "g"), (["a\nb=1"], "unknown option"),
]


@pytest.mark.slow
def test_cli_bad_input_is_one_error_line_exit_2(tmp_path):
    bad_rows = tmp_path / "bad.jsonl"
    bad_rows.write_bytes(DATA.read_bytes().splitlines()[0] + b"\n" + b'{"id": "p9", "question": "q", "answer": \xff}\n')
    trunc = tmp_path / "trunc.jsonl"
    trunc.write_bytes(DATA.read_bytes()[:300])
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text('{"steps": 3, "beta"')
    cases = [(["--data", DATA, "--out", tmp_path / "o", *a], n) for a, n in CLI_CASES]
    cases += [(["--data", bad_rows, "--out", tmp_path / "o"], "bad.jsonl line 2"),
              (["--data", trunc, "--out", tmp_path / "o"], "trunc.jsonl line 1"),
              (["--data", tmp_path / "missing.jsonl", "--out", tmp_path / "o"], "missing.jsonl"),
              (["--resume", corrupt], "config.json"), (["--resume", tmp_path / "nothing"], "nothing")]
    for args, needle in cases:
        proc = _mind("train", *args)
        err = proc.stderr.strip()
        assert proc.returncode == 2, (args, err[-1500:])
        assert "Traceback" not in err and err.startswith("error: ") and "\n" not in err, (args, err[-1500:])
        assert needle in err, (args, err)
    assert not (tmp_path / "o").exists()
    print(f"CLI bad-input cases: {len(cases)}, all exit 2 with one `error:` line")
