"""Sharing the dashboard safely: the access token (`mind app`, the login gate in AppTest), `--read-only` (pages
hidden, jobs refused server-side) and the Launch form's folder policy (`..`, symlinks, absolute paths, `~`,
Hugging Face ids). Server tests start `mind app` and read the address it really listens on from /proc/net/tcp,
then probe Streamlit's own endpoints without a token."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import patient
from test_app_runs import ROOT, copy_run, roots  # noqa: F401  (roots is a fixture)

from app import access, jobs, settings, ui
from mind.commands.app import command, resolve_token, urls
from mind.hosts import is_loopback
from mind.errors import ConfigError

MAIN = str(ROOT / "app" / "main.py")
LAUNCH = ui.page_path("2_Launch.py")
TOKEN = "test-token-" + "a1b2c3d4e5f6"


def dump(at: AppTest) -> bytes:
    """Every element the script sent to the browser, serialised (markdown, tables as Arrow bytes, chart specs)."""
    def walk(node) -> bytes:
        proto = getattr(node, "proto", None)
        out = proto.SerializeToString() if proto is not None else b""
        for child in getattr(node, "children", {}).values():
            out += walk(child)
        return out

    return walk(at._tree)


def by_label(elements, label: str):
    found = [e for e in elements if e.label == label]
    assert len(found) == 1, [e.label for e in elements]
    return found[0]


# --------------------------------------------------------------------------------------------- mind app


@pytest.mark.parametrize("host,loop", [("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True),
                                       ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
                                       ("example.org", False), ("10.0.0.1", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_non_loopback_host_needs_a_token_that_travels_in_the_environment(tmp_path):
    with pytest.raises(ConfigError, match="needs an access token"):
        command(8501, tmp_path, "0.0.0.0")
    argv, env = command(8501, tmp_path, "0.0.0.0", token=TOKEN, read_only=True, allow_dirs=[tmp_path])
    assert TOKEN not in " ".join(argv)  # the command line is visible to every user in `ps`
    assert env == {"MIND_RUNS_DIR": str(tmp_path.resolve()), "MIND_APP_TOKEN": TOKEN, "MIND_APP_READ_ONLY": "1",
                   "MIND_APP_ALLOW_DIRS": str(tmp_path.resolve())}
    opts = dict(zip(argv, argv[1:]))
    assert opts["--server.enableXsrfProtection"] == "true" and opts["--server.enableStaticServing"] == "false"
    assert opts["--server.enableAgentApi"] == "false" and opts["--server.scriptHealthCheckEnabled"] == "false"
    assert (settings.ENV_TOKEN, settings.ENV_READ_ONLY, settings.ENV_ALLOW_DIRS) == (
        "MIND_APP_TOKEN", "MIND_APP_READ_ONLY", "MIND_APP_ALLOW_DIRS")
    for bad in ("short", "has space in it!", "x" * 257, "semi;colon-token"):
        with pytest.raises(ConfigError, match="--token"):
            command(8501, tmp_path, "0.0.0.0", token=bad)
    with pytest.raises(ConfigError, match="--allow-dir"):
        command(8501, tmp_path, allow_dirs=[tmp_path / "missing"])


def test_token_comes_from_the_flag_the_environment_or_is_generated():
    assert resolve_token(None, "127.0.0.1", environ={}) is None  # loopback stays open by default
    assert resolve_token(TOKEN, "127.0.0.1", environ={}) == TOKEN  # ... unless a token is given
    assert resolve_token(None, "0.0.0.0", environ={"MIND_APP_TOKEN": TOKEN}) == TOKEN
    made = {resolve_token(None, "0.0.0.0", environ={}) for _ in range(3)}
    assert len(made) == 3 and all(re.fullmatch(r"[A-Za-z0-9_-]{43}", t) for t in made)  # 32 random bytes each
    with pytest.raises(ConfigError, match=r"\$MIND_APP_TOKEN"):
        resolve_token(None, "0.0.0.0", environ={"MIND_APP_TOKEN": "short"})
    assert urls("0.0.0.0", 8600, TOKEN)[-1] == f"http://127.0.0.1:8600/?token={TOKEN}"
    assert urls("::1", 8600, None) == ["http://[::1]:8600"]


def test_dry_run_never_prints_the_token(tmp_path, capsys, monkeypatch):
    from mind.cli import main

    monkeypatch.setenv("MIND_APP_TOKEN", TOKEN)
    assert main(["app", "--host", "0.0.0.0", "--runs-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "--server.address 0.0.0.0" in out.out and TOKEN not in out.out + out.err


def test_token_comparison_and_exposure_rules():
    assert access.token_matches(TOKEN, TOKEN)
    assert not access.token_matches(TOKEN + "x", TOKEN) and not access.token_matches("", TOKEN)
    assert not access.token_matches(None, TOKEN) and not access.token_matches(TOKEN, "")
    assert access.exposed_without_token(None, None)  # Streamlit's default: every interface
    assert access.exposed_without_token("0.0.0.0", None) and access.exposed_without_token("10.1.2.3", "")
    assert not access.exposed_without_token("0.0.0.0", TOKEN)
    assert not access.exposed_without_token("127.0.0.1", None) and not access.exposed_without_token("unix:///tmp/s", None)


# --------------------------------------------------------------------------------------------- folder policy


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """runs/ (the runs folder), allowed/ (an --allow-dir folder), outside/; files, model folders and symlinks."""
    runs, allowed, outside = (tmp_path / n for n in ("runs", "allowed", "outside"))
    for d in (runs / "sub", allowed / "models" / "m1", outside / "model", runs / "org" / "model"):
        d.mkdir(parents=True)
    for f in (runs / "d.jsonl", runs / "sub" / "s.jsonl", allowed / "a.jsonl", outside / "o.jsonl", runs / "notes.txt"):
        f.write_text("{}\n")
    (runs / "link.jsonl").symlink_to(outside / "o.jsonl")  # inside by name, outside in fact
    (runs / "inner.jsonl").symlink_to(runs / "sub" / "s.jsonl")  # a link that stays inside
    (runs / "model-link").symlink_to(outside / "model")
    (runs / "loop.jsonl").symlink_to(runs / "loop.jsonl")
    monkeypatch.setenv("HOME", str(outside))
    return runs.resolve(), allowed.resolve(), outside.resolve()


def test_launch_dataset_must_lie_in_the_runs_folder_or_an_allowed_one(tree):
    runs, allowed, outside = tree
    roots = [runs, allowed]
    ok = {"demo": "demo", "d.jsonl": str(runs / "d.jsonl"), str(runs / "d.jsonl"): str(runs / "d.jsonl"),
          "sub/../d.jsonl": str(runs / "d.jsonl"), "inner.jsonl": str(runs / "sub" / "s.jsonl"),
          str(allowed / "a.jsonl"): str(allowed / "a.jsonl"), "../allowed/a.jsonl": str(allowed / "a.jsonl"),
          "  d.jsonl  ": str(runs / "d.jsonl")}
    for value, real in ok.items():
        assert access.launch_dataset(value, roots) == real, value
    refused = {"../outside/o.jsonl": "outside", str(outside / "o.jsonl"): "outside", "link.jsonl": "outside",
               "sub/../../outside/o.jsonl": "outside", "~/o.jsonl": "outside", "/etc/passwd": "outside",
               str(outside / "missing.jsonl"): "outside",  # a refusal says nothing about existence outside
               "missing.jsonl": "no such file", "loop.jsonl": "cannot be resolved", "notes.txt": "not a .jsonl",
               "sub": "not a .jsonl", "": "empty", "--help": "not a path", "d.jsonl\n": None}
    for value, needle in refused.items():
        if needle is None:
            assert access.launch_dataset(value, roots) == str(runs / "d.jsonl")  # surrounding whitespace is stripped
            continue
        with pytest.raises(access.PathPolicyError, match=needle) as info:
            access.launch_dataset(value, roots)
        assert "\n" not in str(info.value) and str(value.strip()) in str(info.value), value
    with pytest.raises(access.PathPolicyError, match="--allow-dir FOLDER"):
        access.launch_dataset(str(allowed / "a.jsonl"), [runs])  # the same file without --allow-dir


def test_launch_student_folders_and_model_ids(tree):
    runs, allowed, outside = tree
    roots = [runs, allowed]
    assert access.launch_student("tiny", roots) == "tiny"
    assert access.launch_student("smollm2-135m", roots) == "smollm2-135m"
    assert access.launch_student("Qwen/Qwen2.5-0.5B-Instruct", roots) == "Qwen/Qwen2.5-0.5B-Instruct"
    assert access.launch_student("gpt2", roots) == "gpt2"
    assert access.launch_student("org/model", roots) == str(runs / "org" / "model")  # exists: a folder, not an id
    assert access.launch_student(str(allowed / "models" / "m1"), roots) == str(allowed / "models" / "m1")
    # an id-looking name that exists in the trainer's working folder is that folder, which lies outside
    with pytest.raises(access.PathPolicyError, match="outside"):
        access.launch_student("model", roots, search=[outside])
    for value, needle in {"../outside/model": "outside", str(outside / "model"): "outside", "model-link": "outside",
                          "~/model": "outside", "/": "outside", "a/..": "no such file", "org/../..": "outside",
                          "d.jsonl": "not a folder", "-rf": "not a path", "missing/dir/x": "no such file"}.items():
        with pytest.raises(access.PathPolicyError, match=needle):
            access.launch_student(value, roots)


def test_allowed_dirs_and_read_only_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.ENV_ALLOW_DIRS, os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")]))
    monkeypatch.setenv(settings.ENV_RUNS, str(tmp_path / "runs"))
    assert settings.allowed_dirs() == [(tmp_path / "a").resolve(), (tmp_path / "b").resolve()]
    assert access.launch_roots() == [(tmp_path / p).resolve() for p in ("runs", "a", "b")]
    for value, expect in (("1", True), ("true", True), ("", False), ("0", False)):
        monkeypatch.setenv(settings.ENV_READ_ONLY, value)
        assert settings.read_only() is expect
    assert [p[0] for p in access.visible_pages(ui.PAGES, True)] == [p[0] for p in ui.PAGES if p[0] != "2_Launch.py"]
    assert access.visible_pages(ui.PAGES, False) == list(ui.PAGES)


# --------------------------------------------------------------------------------------------- read-only jobs


def test_read_only_refuses_launch_stop_and_every_job_but_analysis(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_READ_ONLY, "1")
    reg = jobs.JobRegistry()
    with pytest.raises(access.ReadOnlyError, match="Launch: this dashboard is read-only"):
        reg.start_train(jobs.LaunchSpec(name="nope"), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() and reg.jobs() == []
    with pytest.raises(access.ReadOnlyError, match="Stop"):
        reg.stop("train", tmp_path / "runs" / "nope")
    for sub in ("train", "eval", "export", "generate"):  # a job added later is refused too, before it starts
        with pytest.raises(access.ReadOnlyError, match=f"mind {sub}"):
            jobs._spawn([sys.executable, "-m", "mind", sub], tmp_path / "log.txt")
    assert not (tmp_path / "log.txt").exists()
    proc = jobs._spawn([sys.executable, "-m", "mind", "analyze", "--help"], tmp_path / "log.txt")
    assert proc.wait(120) == 0 and "--projector" in (tmp_path / "log.txt").read_text()


def test_jobs_do_not_inherit_the_access_token(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.ENV_TOKEN, TOKEN)
    log = tmp_path / "log.txt"
    code = "import os; print('token in child:', os.environ.get('MIND_APP_TOKEN'))"
    proc = jobs._spawn([sys.executable, "-c", code, "child"], log)
    assert proc.wait(60) == 0
    assert log.read_text().strip() == "token in child: None"


# --------------------------------------------------------------------------------------------- AppTest: the gate


def _main(**query) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=patient(60))
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


@pytest.mark.slow
def test_without_the_token_only_the_login_prompt_renders(roots, monkeypatch):
    copy_run(roots, "secret-run")
    monkeypatch.setenv(settings.ENV_TOKEN, TOKEN)
    for query in ({}, {"token": "wrong-token-123"}, {"run": "secret-run"}):
        at = _main(**query)
        assert not at.exception
        assert [t.value for t in at.title] == ["MIND dashboard"]
        assert [w.label for w in at.text_input] == ["Access token"] and at.text_input[0].proto.type == at.text_input[0].proto.PASSWORD
        assert len(at.dataframe) == 0 and len(at.get("plotly_chart")) == 0 and len(at.selectbox) == 0
        sent = dump(at)
        assert b"secret-run" not in sent and str(roots).encode() not in sent
        assert ("not this dashboard's token" in " ".join(e.value for e in at.error)) == ("token" in query)
        assert "token" not in at.query_params  # a wrong token is removed from the address bar too


@pytest.mark.slow
def test_token_in_the_link_or_the_login_box_opens_the_dashboard(roots, monkeypatch):
    copy_run(roots, "secret-run")
    monkeypatch.setenv(settings.ENV_TOKEN, TOKEN)
    at = _main(token=TOKEN)
    assert not at.exception and at.title[0].value == "Runs"
    assert at.dataframe[0].value["run"].tolist() == ["secret-run"]
    assert "token" not in at.query_params  # removed from the address bar
    assert at.session_state[access.SESSION_KEY] == access.digest(TOKEN) != TOKEN
    at.run()  # later reruns of the same session need no token
    assert at.title[0].value == "Runs"

    at = _main()
    at.text_input[0].input("not-the-token-at-all")
    at.button[0].click().run()
    assert "not this dashboard's token" in at.error[0].value and b"secret-run" not in dump(at)
    at.text_input[0].input(TOKEN)
    at.button[0].click().run()
    assert not at.exception and at.title[0].value == "Runs"
    assert at.dataframe[0].value["run"].tolist() == ["secret-run"]


def test_a_stale_session_value_without_the_token_does_not_open_the_dashboard(roots, monkeypatch):
    monkeypatch.setenv(settings.ENV_TOKEN, TOKEN)
    at = AppTest.from_file(MAIN, default_timeout=patient(60))
    at.session_state[access.SESSION_KEY] = access.digest("another-token-1234")  # e.g. after a token change
    at.run()
    assert [w.label for w in at.text_input] == ["Access token"]
    at.session_state[access.SESSION_KEY] = True
    at.run()
    assert [w.label for w in at.text_input] == ["Access token"]


@pytest.mark.parametrize("address", ["0.0.0.0", "10.1.2.3", None])
def test_a_network_address_without_a_token_shows_nothing(roots, address):
    """`streamlit run app/main.py --server.address 0.0.0.0` (bypassing mind app): a refusal, no page."""
    from streamlit import config

    old = config.get_option("server.address")
    config.set_option("server.address", address)
    try:
        at = _main()
    finally:
        config.set_option("server.address", old)
    assert not at.exception and len(at.title) == 0 and len(at.text_input) == 0 and len(at.dataframe) == 0
    assert "has no access token" in at.error[0].value and str(roots).encode() not in dump(at)


def test_bare_streamlit_run_from_any_folder_binds_loopback():
    """Streamlit reads the config beside the main script: app/.streamlit/config.toml keeps 127.0.0.1."""
    import tomllib

    for cfg in (ROOT / "app" / ".streamlit" / "config.toml", ROOT / ".streamlit" / "config.toml"):
        server = tomllib.loads(cfg.read_text())["server"]
        assert server["address"] == "127.0.0.1" and server["enableXsrfProtection"] is True, cfg


def test_loopback_without_a_token_stays_open(roots):
    at = _main()
    assert not at.exception and at.title[0].value == "Runs" and "Access token" not in [w.label for w in at.text_input]


# --------------------------------------------------------------------------------------------- AppTest: read-only


def test_read_only_hides_the_launch_page(roots, monkeypatch):
    monkeypatch.setenv(settings.ENV_READ_ONLY, "1")
    at = _main()
    assert not at.exception and at.title[0].value == "Runs"
    assert "Read-only dashboard" in " ".join(c.value for c in at.sidebar.caption)
    assert len(at.page_link) == 0  # the empty runs folder offers no "Launch a run" link
    page = AppTest.from_file(LAUNCH, default_timeout=patient(60)).run()  # reached anyway: nothing to press
    assert "read-only" in page.info[0].value and len(page.button) == 0 and len(page.text_input) == 0
    monkeypatch.delenv(settings.ENV_READ_ONLY)
    at = _main()
    assert [p.label for p in at.page_link] == ["Launch a run"]


# --------------------------------------------------------------------------------------------- AppTest: Launch form


def _launch(data: str | None = None, student: str | None = None, name: str = "policy") -> AppTest:
    at = AppTest.from_file(LAUNCH, default_timeout=patient(60)).run()
    by_label(at.text_input, "Run name").set_value(name)
    if data is not None:
        by_label(at.radio, "Dataset").set_value("file")
        by_label(at.text_input, "Dataset file (.jsonl)").set_value(data)
    if student is not None:
        by_label(at.selectbox, "Student").set_value("other (model id or folder)")
        by_label(at.text_input, "Model id or folder").set_value(student)
    by_label(at.button, "Start training").click()
    return at.run()


def test_launch_form_refuses_files_and_folders_outside_the_allowed_ones(roots, tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    (outside / "model").mkdir(parents=True)
    (outside / "o.jsonl").write_text("{}\n")
    (roots / "link.jsonl").symlink_to(outside / "o.jsonl")
    (roots / "model-link").symlink_to(outside / "model")
    monkeypatch.setenv("HOME", str(outside))
    cases = [(dict(data="../outside/o.jsonl"), "outside"), (dict(data=str(outside / "o.jsonl")), "outside"),
             (dict(data="link.jsonl"), "outside"), (dict(data="~/o.jsonl"), "outside"),
             (dict(data="missing.jsonl"), "no such file"), (dict(student="../outside/model"), "outside"),
             (dict(student="model-link"), "outside"), (dict(student=str(outside / "model")), "outside")]
    for kwargs, needle in cases:
        at = _launch(**kwargs)
        assert not at.exception
        errors = " ".join(e.value for e in at.error)
        assert needle in errors and len(at.error) == 1, (kwargs, errors)
        assert ("--allow-dir FOLDER" in errors) == (needle == "outside"), errors  # says how to fix it
    assert sorted(p.name for p in roots.iterdir()) == ["link.jsonl", "model-link"]  # no run folder was made
    assert "must lie in" in " ".join(c.value for c in at.caption)


@pytest.mark.slow
def test_launch_form_accepts_a_file_in_an_allowed_folder(roots, tmp_path, monkeypatch):
    from test_app_runs import tiny_dataset

    allowed = tmp_path / "datasets"
    allowed.mkdir()
    data = tiny_dataset(allowed / "tiny.jsonl")
    monkeypatch.setenv(settings.ENV_ALLOW_DIRS, str(allowed))
    at, job = _launch(data=str(data), name="allowed-run"), None
    try:
        assert not at.exception and not at.error, [e.value for e in at.error]
        job = ui.registry().get("train", roots / "allowed-run")
        assert job is not None and job.argv[job.argv.index("--data") + 1] == str(data.resolve())
    finally:
        if job is not None and job.running:
            os.killpg(job.proc.pid, signal.SIGKILL)
            job.proc.wait(30)
        ui.registry().forget("train", roots / "allowed-run")
    assert (roots / "allowed-run" / "log.txt").read_text().startswith(f"$ mind train --data {data.resolve()}")


# --------------------------------------------------------------------------------------------- a real server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> set[str]:
    """Local addresses of the sockets in LISTEN state on ``port``, read from the kernel (/proc/net/tcp, tcp6)."""
    found = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state != "0A" or int(p, 16) != port:
                continue
            raw = bytes.fromhex(addr)
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def _start(args: list[str], runs: Path, env_extra: dict | None = None, log: Path | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIND_APP_")}
    env.update(env_extra or {})
    port = _free_port()
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mind", "app", "--port", str(port), "--runs-dir", str(runs), *args],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + patient(120)
    while True:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc, port, out
        except OSError:
            pass
        assert proc.poll() is None, log.read_text()
        assert time.time() < deadline, f"dashboard did not start in {patient(120):.0f} s"
        time.sleep(0.3)


def _stop(proc, out) -> None:
    from mind.procs import stop_group

    stop_group(proc)
    out.close()


def _other_address() -> str | None:
    """A non-loopback IPv4 address of this machine, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent; picks the outgoing interface
            addr = s.getsockname()[0]
    except OSError:
        return None
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def _get(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.slow
def test_mind_app_really_listens_on_loopback_only(tmp_path):
    runs = tmp_path / "runs"
    log = tmp_path / "server.log"
    proc, port, out = _start([], runs, log=log)
    try:
        assert listening(port) == {"127.0.0.1"}
        other = _other_address()
        if other:  # the same port on this machine's network address: nobody answers
            with pytest.raises(OSError):
                urllib.request.urlopen(f"http://{other}:{port}/_stcore/health", timeout=3)
    finally:
        _stop(proc, out)
    text = log.read_text()
    assert f"MIND dashboard on http://127.0.0.1:{port}\n" in text and "token=" not in text
    print(f"mind app listened on {{127.0.0.1}}:{port}; network address tried: {other}")


@pytest.mark.slow
def test_all_interfaces_get_a_generated_token_and_the_endpoints_serve_no_run_data(tmp_path):
    runs = tmp_path / "runs"
    run = copy_run(runs, "secret-run")
    log = tmp_path / "server.log"
    proc, port, out = _start(["--host", "0.0.0.0"], runs, env_extra={"MIND_CACHED_RUNS": str(tmp_path / "none")},
                             log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        assert listening(port) == {"0.0.0.0"}
        other = _other_address()
        if other:
            assert urllib.request.urlopen(f"http://{other}:{port}/_stcore/health", timeout=5).read() == b"ok"
        printed = log.read_text()
        token = re.search(rf"http://127\.0\.0\.1:{port}/\?token=([A-Za-z0-9_-]+)", printed).group(1)
        assert len(token) >= 43 and "warning: the dashboard is reachable from other machines" in printed
        secrets = [b"secret-run", str(run).encode(), str(runs).encode(), token.encode()]
        probes = {
            "/": ("GET", None), "/runs": ("GET", None), "/launch?run=secret-run": ("GET", None),
            "/_stcore/health": ("GET", None), "/_stcore/host-config": ("GET", None), "/_stcore/metrics": ("GET", None),
            "/_stcore/script-health-check": ("GET", None), "/media/": ("GET", None),
            "/media/0123456789abcdef0123456789abcdef0123456789abcdef01234567.csv": ("GET", None),
            "/component/x/index.html": ("GET", None), "/app/static/config.json": ("GET", None),
            "/_stcore/agent/openapi.json": ("GET", None), "/_stcore/agent/interact": ("POST", b"{}"),
            "/_stcore/agent/mcp": ("POST", b"{}"), "/_stcore/upload_file/s/f": ("PUT", b"x"),
            "/_stcore/stream": ("GET", None),
        }
        statuses = {}
        for path, (method, body) in probes.items():
            status, content = _get(base + path, method, body)
            statuses[path] = status
            for s in secrets:
                assert s not in content, (path, s)
        assert statuses["/_stcore/health"] == 200 and statuses["/media/"] == 404
        assert statuses["/_stcore/agent/interact"] != 200 and statuses["/_stcore/upload_file/s/f"] in (403, 404, 405)
        assert statuses["/media/0123456789abcdef0123456789abcdef0123456789abcdef01234567.csv"] == 404
        print("unauthenticated probes:", statuses)
    finally:
        _stop(proc, out)
