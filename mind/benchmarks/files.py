"""Reading local benchmark files into rows: the data folder, JSON / JSONL / GPQA-zip readers, field checks.

A layer below :mod:`mind.benchmarks` (which turns rows into :class:`~mind.benchmarks.BenchmarkItem` records) and
:mod:`mind.benchmarks.svamp_multi_teacher` (which joins the multi-teacher SVAMP files); it imports nothing of ``mind`` but the
error types. Every malformed file or row is a one-line :class:`~mind.errors.DataError` naming file and row.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import zipfile
from pathlib import Path

from mind.errors import DataError

GPQA_PASSWORD = b"deserted-untie-orchid"  # published in the GPQA authors' README; keeps the data out of crawlers


def data_dir() -> Path:
    """The local benchmark folder: ``$MIND_DATA_DIR`` when set, else ``shared/data`` beside the checkout."""
    env = os.environ.get("MIND_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def normalize_question(text: str) -> str:
    """Question text for matching: lower case, punctuation dropped, whitespace collapsed."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def row_field(row, key: str, where: str, kind=str):
    """``row[key]`` checked to be a ``kind`` (a non-blank string by default; never a bool unless ``kind`` is bool).

    A row that is not an object, or a missing or mistyped field, is a one-line DataError naming ``where``."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected an object, got {type(row).__name__}; fix or remove the row")
    value = row.get(key)
    ok = isinstance(value, kind) and not isinstance(value, bool) if kind is not bool else isinstance(value, bool)
    if not ok or (isinstance(value, str) and not value.strip()):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{where}: field {key!r} is missing or not a {names}; fix the row")
    return value


def read_rows(path: Path, name: str, split: str) -> list[tuple[str, dict]]:
    """(where, row) pairs of a local JSON list, JSONL or (``name == "gpqa"``) GPQA zip file; ``where`` names file and
    row for error messages."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"benchmark file {path}: cannot read it ({exc.strerror}); check the path") from None
    if name == "gpqa":
        return list(_gpqa_rows(raw, path.name, split))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: invalid UTF-8 at byte {exc.start}; re-save the file as UTF-8") from None
    if path.suffix == ".jsonl":
        rows = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    rows.append((f"{path.name} row {lineno}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path.name} row {lineno}: not valid JSON ({exc.msg}); fix or remove the line") from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from None
    if not isinstance(data, list):
        raise DataError(f"{path.name}: expected a JSON list of items, got {type(data).__name__}")
    return [(f"{path.name} row {i + 1}", row) for i, row in enumerate(data)]


@functools.lru_cache(maxsize=4)
def _gpqa_rows(raw: bytes, path: str, split: str) -> tuple[tuple[str, dict], ...]:
    """Decrypt ``dataset/gpqa_<split>.csv`` from the password-protected zip in memory (nothing written to disk).

    Cached by the zip's bytes: the pure-Python ZipCrypto decryption takes about a second per split."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            member = next((n for n in zf.namelist() if n.endswith(f"gpqa_{split}.csv")), None)
            if member is None:
                raise DataError(f"{path}: no gpqa_{split}.csv inside; use split diamond, main or extended")
            data = zf.read(member, pwd=GPQA_PASSWORD)
    except (zipfile.BadZipFile, RuntimeError) as exc:
        raise DataError(f"{path}: cannot open the GPQA zip ({type(exc).__name__}); re-download dataset.zip") from None
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return tuple((f"{path}:{member} row {i + 1}", row) for i, row in enumerate(reader))
