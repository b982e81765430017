"""Bad input never gives a traceback: malformed dataset rows, impossible configs and corrupt run directories each
raise a :class:`mind.errors.MindError` whose message is one line, names the field or file, and says what to do.

Property-based (hypothesis) with bounded example counts; each property counts the cases it tried and the module
prints the totals at the end (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mind.training.config import TrainConfig, build_config
from mind.data import load_problems
from mind.errors import ConfigError, DataError, MindError, RunDirError
from mind.run import RunWriter, load_run

HERE = Path(__file__).parent
MINI = HERE / "data" / "mini.jsonl"
GOOD = [json.loads(line) for line in MINI.read_text().splitlines()]
FIX_WORDS = re.compile(r"; |use |give |add |fix|delete|re-run|re-save|choose|check|shorten|drop|keep|pass|write|tag")
CASES: Counter = Counter()
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


def assert_clear(exc: BaseException, *names: str) -> None:
    """One line, names one of ``names`` (a field or file), suggests a fix; a MindError, nothing else."""
    assert isinstance(exc, MindError), f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
    assert any(n in msg for n in names), f"none of {names} in {msg!r}"
    assert FIX_WORDS.search(msg), f"no fix suggested: {msg!r}"


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    print("\nbad-input cases tried:", dict(CASES), "total", sum(CASES.values()))


# --------------------------------------------------------------------------------------------- dataset rows

JSON_JUNK = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                      st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
FIELDS = ("id", "question", "answer", "answer_type", "rationales")


@st.composite
def broken_row(draw):
    """A valid mini.jsonl row with one defect. Returns (label, row)."""
    row = json.loads(json.dumps(draw(st.sampled_from(GOOD))))
    kind = draw(st.sampled_from(["drop_field", "wrong_type", "gold", "empty_rationale", "huge_rationale",
                                 "unknown_perspective", "duplicate_perspective", "no_rationales", "rationale_type"]))
    if kind == "drop_field":
        del row[draw(st.sampled_from(["id", "question", "answer", "rationales"]))]
    elif kind == "wrong_type":
        field = draw(st.sampled_from(FIELDS))
        value = draw(JSON_JUNK)
        ok = {"id": lambda v: (isinstance(v, str) and v.strip()) or (isinstance(v, int) and not isinstance(v, bool)),
              "question": lambda v: isinstance(v, str) and v.strip(),
              "answer": lambda v: isinstance(v, (int, float, bool)) or (isinstance(v, str) and v.strip()),
              "answer_type": lambda v: v in ("number", "math", "choice", "yesno", "text"),
              "rationales": lambda v: False}[field]
        if field == "answer" and isinstance(value, float) and math.isfinite(value):
            value = None  # a finite float is a valid gold answer
        if ok(value) and field != "rationales":
            value = [value]
        row[field] = value
    elif kind == "gold":
        row["answer"] = draw(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and not re.fullmatch(
            r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?\d+/\d+", s.strip().replace(",", ""))))
    elif kind == "empty_rationale":
        row["rationales"][0]["text"] = draw(st.sampled_from(["", "   ", "\n\t"]))
    elif kind == "huge_rationale":
        row["rationales"][0]["text"] = "x" * draw(st.integers(20_001, 60_000))
    elif kind == "unknown_perspective":
        row["rationales"][0]["perspective"] = draw(st.text(min_size=1, max_size=12).filter(
            lambda s: s not in ("formal", "intuitive", "decomposition")))
    elif kind == "duplicate_perspective":
        row["rationales"].append(dict(row["rationales"][0]))
    elif kind == "no_rationales":
        row["rationales"] = []
    else:
        row["rationales"][draw(st.integers(0, len(row["rationales"]) - 1))] = draw(JSON_JUNK)
    return kind, row


@FAST
@given(case=broken_row(), line=st.integers(0, 3))
def test_malformed_rows_give_one_line_data_error(tmp_path_factory, case, line):
    kind, row = case
    CASES[f"dataset:{kind}"] += 1
    path = tmp_path_factory.mktemp("d") / "bad.jsonl"
    rows = [json.dumps(r) for r in GOOD]
    rows[line] = json.dumps(row, ensure_ascii=False)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(MindError) as info:
        load_problems(path, perspectives=("formal", "intuitive", "decomposition"))
    assert isinstance(info.value, DataError)
    assert_clear(info.value, f"bad.jsonl line {line + 1}")


@FAST
@given(cut=st.integers(1, 200), junk=st.binary(min_size=1, max_size=40), kind=st.sampled_from(["truncate", "bytes", "utf8"]))
def test_truncated_or_binary_lines_give_one_line_data_error(tmp_path_factory, cut, junk, kind):
    CASES[f"dataset:{kind}"] += 1
    lines = MINI.read_bytes().splitlines()
    if kind == "truncate":
        lines[1] = lines[1][: min(cut, len(lines[1]) - 1)]
    elif kind == "bytes":
        lines[1] = b"{" + junk.replace(b"\n", b" ")
    else:
        lines[1] = lines[1][:20] + b"\xff\xfe" + lines[1][20:]
    path = tmp_path_factory.mktemp("d") / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(MindError) as info:
        load_problems(path)
    assert_clear(info.value, "bad.jsonl line 2")


@pytest.mark.parametrize("content, needle", [
    (b"", "no problems found"),
    (b"\n\n  \n", "no problems found"),
    (b"[" * 100_000 + b"\n", "line 1"),           # nesting too deep for the JSON parser
    (b'{"id": ' + b"9" * 5000 + b"}\n", "line 1"),  # an integer too long to convert
    (MINI.read_bytes() + MINI.read_bytes().splitlines()[0] + b"\n", "duplicate id"),
    (b'{"id": "a\\nb", "question": "q", "answer": "x", "rationales": []}\n', "id 'a\\nb'"),
])
def test_edge_files_give_one_line_data_error(tmp_path, content, needle):
    CASES["dataset:edge-file"] += 1
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_problems(path)
    assert_clear(info.value, needle)


def test_byte_order_mark_and_crlf_are_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + MINI.read_bytes().replace(b"\n", b"\r\n"))
    assert [p.id for p in load_problems(path)] == ["p1", "p2", "p3", "p4"]


# --------------------------------------------------------------------------------------------- configs

IMPOSSIBLE = {
    "beta": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0, exclude_min=True), st.just(math.nan)),
    "lam": st.one_of(st.floats(max_value=-1e-12), st.just(math.nan), st.just(math.inf)),
    "tau": st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf)),
    "tau_student": st.floats(max_value=0.0),
    "lr": st.one_of(st.floats(max_value=0.0), st.just(math.inf)),
    "g": st.one_of(st.floats(min_value=1.0), st.floats(max_value=-1e-12)),
    "steps": st.integers(max_value=0),
    "batch_size": st.integers(max_value=0),
    "meta_heads": st.integers(max_value=0),
    "method": st.text(max_size=12).filter(lambda s: s not in
                                          ("mind", "single", "uniform", "uniform-consistency", "instant", "no-attention")),
    "perspectives": st.one_of(st.lists(st.sampled_from(["formal", "intuitive"]), min_size=1, max_size=1),  # K = 1 (empty = all)
                              st.just(["formal", "formal"]), st.just(["Formal!", "x"])),
    "finetune": st.text(max_size=8).filter(lambda s: s not in ("lora", "full")),
}


@FAST
@given(data=st.data(), name=st.sampled_from(sorted(IMPOSSIBLE)), as_text=st.booleans())
def test_impossible_configs_give_one_line_config_error(data, name, as_text):
    value = data.draw(IMPOSSIBLE[name])
    CASES[f"config:{name}"] += 1
    raw = ",".join(value) if isinstance(value, list) else (repr(value) if as_text and isinstance(value, float) else value)
    if as_text and not isinstance(raw, str):
        raw = str(raw)
    with pytest.raises(MindError) as info:
        build_config(None, {name: raw})
    assert isinstance(info.value, ConfigError)
    assert_clear(info.value, name if name != "perspectives" else "perspectives")


@FAST
@given(name=st.sampled_from(["beta", "lam", "steps", "tau", "method", "student", "lr"]),
       value=st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.just(math.nan)))
def test_wrong_types_from_python_give_config_error(name, value):
    CASES["config:wrong-type"] += 1
    if name in ("method", "student") and isinstance(value, str):
        value = None
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{name: value})
    assert_clear(info.value, name)


@FAST
@given(key=st.text(min_size=1, max_size=12).filter(lambda k: k.replace("-", "_") not in TrainConfig.__dataclass_fields__))
def test_unknown_option_names_it_on_one_line(key):
    CASES["config:unknown-key"] += 1
    with pytest.raises(ConfigError) as info:
        build_config(None, {key: "1"})
    assert_clear(info.value, "unknown option")


@pytest.mark.parametrize("suffix, text", [(".yaml", "beta: [0.5\nlam: 1"), (".json", '{"beta": 0.5'), (".yaml", "- 1\n- 2"),
                                          (".yaml", "1: 2"), (".json", '{"beta": "high"}')])
def test_broken_config_files_give_one_line_error(tmp_path, suffix, text):
    CASES["config:file"] += 1
    path = tmp_path / f"cfg{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        build_config(path, {})
    assert_clear(info.value, str(path), "beta")


# --------------------------------------------------------------------------------------------- run directories


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A small but complete run directory written through RunWriter (no training needed): samples of steps 1-2 in a
    Parquet chunk, step 3 in the samples.jsonl tail."""
    out = tmp_path_factory.mktemp("runs") / "good"
    w = RunWriter(out, samples_chunk_steps=2)
    persp = ["formal", "intuitive"]
    w.write_json("config.json", {"perspectives": persp, "steps": 3, "method": "mind"})
    w.write_jsonl("data.jsonl", [{**GOOD[0], "rationales": GOOD[0]["rationales"][:2]}])
    w.write_jsonl("probes.jsonl", [{"problem_id": "p1", "perspective": p} for p in persp])
    for s in (1, 2, 3):
        w.log_step({"step": s, "loss_total": 1.0 / s})
        w.log_samples([{"step": s, "problem_id": "p1", "scores": [1.0, 2.0]}])
    w.write_snapshot(3, np.ones((2, 8)), np.array([1, 0]))
    w.set_status("finished", step=3)
    assert (out / CHUNK).exists()
    return out


def read_everything(path: Path) -> dict:
    """Everything the dashboard and `mind analyze` read from a run, as plain observations."""
    run = load_run(path)
    obs = {"config": run.config, "state": run.state, "perspectives": run.perspectives,
           "steps": run.steps["step"].tolist(), "samples": run.samples["step"].tolist(),
           "sample_steps": run.sample_steps, "problems": len(run.problems), "probes": len(run.probes),
           "checkpoints": run.checkpoints, "snapshots": run.snapshot_steps}
    if run.snapshot_steps:
        obs["hidden"] = run.hidden_states()[0].shape
    return obs


CHUNK = "samples/step_000001-000002.parquet"
FILES = ("config.json", "status.json", "steps.jsonl", "samples.jsonl", CHUNK, "data.jsonl", "probes.jsonl",
         "snapshots/step_000003.safetensors")
GARBAGE = st.one_of(st.binary(max_size=64), st.sampled_from([b"[]", b"5", b'"x"', b"null", b"{}", b'{"step": "a"}',
                                                              b'{"state": 1}', b'{"heartbeat": "x"}', b'{"perspectives": 3}',
                                                              b'{"rationales": [1]}', b"\xff\xfe\x00", b'{"step": 9}',
                                                              b'{"step": 1.0}', b'{"step": true}', b" "]))
FOLDER = object()  # a folder where the file should be


class Bad(Exception):
    """The oracle's verdict: reading the run must raise a RunDirError naming the damaged file."""


def jsonl_records(data) -> list[dict]:
    """The JSONL reading rule: a complete line that is not a JSON object is an error; the unterminated last line
    is the record in flight, kept when it parses as an object and skipped when torn; a missing file is empty."""
    if data is None:
        return []
    lines = data.split(b"\n")
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            if i == len(lines) - 1:
                break
            raise Bad
        out.append(obj)
    return out


def json_object(data) -> dict:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Bad from None
    if not isinstance(obj, dict):
        raise Bad
    return obj


def int_step(r: dict) -> int:
    s = r.get("step")
    if isinstance(s, float) and s.is_integer():
        s = int(s)
    if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**53:
        raise Bad
    return s


def expected_reading(file: str, data, base: dict) -> dict:
    """What read_everything must observe after ``file`` now holds ``data`` (None: deleted; FOLDER), or Bad.

    The documented tolerated readings: a missing status.json reads as state 'unknown'; a missing or shortened
    JSONL file reads as the records it still holds whole; extra records are read (unknown keys flow through, a step
    written twice keeps its last record); a deleted samples chunk or snapshot reads as a run without those steps;
    any other change to a chunk or a snapshot (binary files with checksums and lengths) is an error."""
    if data is FOLDER:
        raise Bad
    exp = dict(base)
    if file == "config.json":
        if data is None:
            raise Bad
        cfg = json_object(data)
        ps = cfg.get("perspectives") or []
        if not isinstance(ps, list) or not all(isinstance(p, str) for p in ps):
            raise Bad
        exp.update(config=cfg, perspectives=list(ps))
    elif file == "status.json":
        st_ = json_object(data) if data is not None else {}
        beat = st_.get("heartbeat")
        if not isinstance(st_.get("state", "unknown"), str) or not (beat is None or isinstance(beat, (int, float))):
            raise Bad
        exp["state"] = (st_ or {"state": "unknown"}).get("state", "unknown")
        if exp["state"] == "running":
            exp.pop("state")  # running or stale, depending on the heartbeat's age
    elif file == "steps.jsonl":
        exp["steps"] = sorted({int_step(r) for r in jsonl_records(data)})
    elif file == "samples.jsonl":
        tail = [int_step(r) for r in jsonl_records(data)]
        exp["samples"] = [1, 2] + [s for s in tail if s > 2]  # the chunk covers steps 1-2
        exp["sample_steps"] = sorted(set(exp["samples"]))
    elif file == CHUNK:
        if data is not None:
            raise Bad
        exp["samples"] = exp["sample_steps"] = [3]
    elif file == "data.jsonl":
        recs = jsonl_records(data)
        for r in recs:
            rats = r.get("rationales", [])
            if not isinstance(rats, list) or not all(isinstance(x, dict) and "perspective" in x and "text" in x for x in rats):
                raise Bad
        exp["problems"] = len(recs)
    elif file == "probes.jsonl":
        if len(jsonl_records(data)) != 2:  # one probe per row of the snapshot
            raise Bad
    elif file.startswith("snapshots/"):
        if data is not None:
            raise Bad
        exp["snapshots"] = []
        exp.pop("hidden")
    return exp


@FAST
@given(file=st.sampled_from(FILES), how=st.sampled_from(["truncate", "replace", "insert_middle", "delete", "folder"]),
       cut=st.floats(0, 1), junk=GARBAGE)
@example(file="snapshots/step_000003.safetensors", how="truncate", cut=1.0, junk=b"")  # cut=1.0 still removes a byte
def test_corrupt_run_directories_read_as_documented_or_raise_run_dir_error(tmp_path_factory, good_run, file, how, cut, junk):
    """For each kind of damage, an oracle says what must happen: the documented tolerated reading, or a one-line
    RunDirError that names the damaged file. Nothing else (no traceback, no silently different reading)."""
    import shutil

    run = tmp_path_factory.mktemp("c") / "run"
    shutil.copytree(good_run, run)
    base = read_everything(good_run)
    f = run / file
    data = f.read_bytes()
    if how == "truncate":
        data = data[: min(int(len(data) * cut), len(data) - 1)]  # at least one byte gone (cut=1.0 damaged nothing)
    elif how == "replace":
        data = junk
    elif how == "insert_middle":
        lines = data.split(b"\n")
        lines.insert(max(1, len(lines) // 2), junk.replace(b"\n", b" ") or b"?")
        data = b"\n".join(lines)
    if how in ("delete", "folder"):
        f.unlink()
        if how == "folder":
            f.mkdir()
        data = None if how == "delete" else FOLDER
    else:
        f.write_bytes(data)
    try:
        expected = expected_reading(file, data, base)
    except Bad:
        expected = None
    CASES[f"rundir:{how}:{'error' if expected is None else 'tolerated'}"] += 1
    try:
        got = read_everything(run)
    except MindError as exc:
        assert expected is None, f"{how} {file}: raised {exc} but the documented reading is {expected}"
        assert isinstance(exc, RunDirError)
        assert_clear(exc, Path(file).name)
        assert str(run) in str(exc)
    else:
        assert expected is not None, f"{how} {file} went unnoticed: read as {got}"
        assert {k: got[k] for k in expected} == expected, f"{how} {file}"


def test_a_missing_or_garbage_config_is_always_an_error(tmp_path, good_run):
    import shutil

    for content in (None, b"", b"{", b"[1]", b"\xff"):
        run = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        shutil.copytree(good_run, run)
        if content is None:
            (run / "config.json").unlink()
        else:
            (run / "config.json").write_bytes(content)
        with pytest.raises(RunDirError) as info:
            load_run(run)
        assert_clear(info.value, "config.json")
    with pytest.raises(RunDirError) as info:
        load_run(tmp_path / "nope")
    assert_clear(info.value, "nope")
