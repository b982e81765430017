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


def _type_names(kind) -> str:
    """A type (or tuple of types) in the words a JSON file's author uses, for messages."""
    names = {"str": "string", "bool": "true/false", "int": "integer", "float": "number", "dict": "object",
             "list": "list"}
    return " or ".join(names.get(k.__name__, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))


def _json_type(value) -> str:
    """A value's type as the file's author wrote it (JSON names), for messages."""
    return {bool: "true/false", str: "string", int: "number", float: "number", dict: "object", list: "list",
            type(None): "null"}.get(type(value), type(value).__name__)


def row_field(row, key: str, where: str, kind=str, expected: str = ""):
    """``row[key]`` checked to be a ``kind`` (a non-blank string by default; never a bool unless ``kind`` is bool).

    A row that is not an object, a missing field (the message lists the fields the row has, so a renamed or
    misspelt answer field is obvious), a blank or mistyped one is a one-line DataError naming ``where``, what is
    wrong and the fix. ``expected`` describes a valid value for the message (e.g. "true or false")."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected an object with field {key!r}, got a {_json_type(row)}; fix or remove "
                        "the row")
    want = expected or f"a {_type_names(kind)}"
    if key not in row or row[key] is None:
        names = [json.dumps(str(k), ensure_ascii=False)[:32] for k in list(row)[:12]]
        have = ", ".join(names) + (", ..." if len(row) > 12 else "") if names else "no fields"
        raise DataError(f"{where}: field {key!r} is missing (the row has: {have}); add {key!r} ({want}) or rename the "
                        "field that holds it")
    value = row[key]
    ok = isinstance(value, kind) and not isinstance(value, bool) if kind is not bool else isinstance(value, bool)
    if not ok:
        shown = f" {json.dumps(value, ensure_ascii=False)[:24]}" if isinstance(value, (str, int, float, bool)) else ""
        raise DataError(f"{where}: field {key!r} is a {_json_type(value)}{shown}, expected {want}; fix the row")
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{where}: field {key!r} is empty, expected {want}; fill it in or remove the row")
    return value


def read_rows(path: Path, name: str, split: str) -> list[tuple[str, dict]]:
    """(where, row) pairs of a local JSON list, JSONL or (``name == "gpqa"``) GPQA zip file; ``where`` names file and
    row for error messages."""
    return [(where, row) for where, row, _ in read_located_rows(path, name, split)]


def read_located_rows(path: Path, name: str, split: str) -> list[tuple[str, dict, int | None]]:
    """(where, row, line) triples: ``where`` is ``<path> row N`` (JSONL: N is the line number; a JSON list or a GPQA
    CSV: the item's position), ``line`` the line the row starts on in the file (None where ``where`` says it)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"benchmark file {path}: cannot read it ({exc.strerror}); check the path") from None
    if name == "gpqa":
        return list(_gpqa_rows(raw, str(path), split))
    try:
        text = raw.decode("utf-8-sig")  # a byte order mark (some editors on Windows write one) is not data
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: invalid UTF-8 at byte {exc.start}; re-save the file as UTF-8") from None
    if path.suffix == ".jsonl":
        rows = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                try:
                    rows.append((f"{path} row {lineno}", json.loads(line), None))
                except (json.JSONDecodeError, RecursionError, ValueError) as exc:
                    why = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
                    raise DataError(f"{path} row {lineno}: not valid JSON ({why}); line {lineno} must hold one JSON "
                                    "object: fix or remove the line") from None
        return rows
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise DataError(f"{path}: not valid JSON ({why}{where}); fix the file") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of items, got a JSON {type(data).__name__}; a .json benchmark "
                        "file holds [item, item, ...] (one object per line needs the .jsonl suffix)")
    lines = _item_lines(text, len(data))
    return [(f"{path} row {i + 1}", row, lines[i]) for i, row in enumerate(data)]


def _item_lines(text: str, n: int) -> list[int | None]:
    """The line each of the ``n`` items of a valid JSON list starts on (so an error can say where to look in a
    pretty-printed file of thousands of lines); Nones if the layout defeats the scan."""
    decoder = json.JSONDecoder()
    ws = " \t\n\r"
    out: list[int | None] = []
    i = len(text) - len(text.lstrip(ws)) + 1  # just past "["
    line, counted = 1, 0
    try:
        while len(out) < n:
            while text[i] in ws:
                i += 1
            line += text.count("\n", counted, i)
            counted = i
            out.append(line)
            _, i = decoder.raw_decode(text, i)
            while text[i] in ws:
                i += 1
            i += 1  # "," or the closing "]"
    except (IndexError, json.JSONDecodeError, RecursionError):
        return [None] * n
    return out


@functools.lru_cache(maxsize=4)
def _gpqa_rows(raw: bytes, path: str, split: str) -> tuple[tuple[str, dict, int], ...]:
    """Decrypt ``dataset/gpqa_<split>.csv`` from the password-protected zip in memory (nothing written to disk);
    (where, row, line) triples as :func:`read_located_rows` gives them.

    Cached by the zip's bytes: the pure-Python ZipCrypto decryption takes about a second per split."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            member = next((n for n in zf.namelist() if n.endswith(f"gpqa_{split}.csv")), None)
            if member is None:
                raise DataError(f"{path}: no gpqa_{split}.csv inside; use split diamond, main or extended")
            data = zf.read(member, pwd=GPQA_PASSWORD)
    except (zipfile.BadZipFile, RuntimeError) as exc:
        raise DataError(f"{path}: cannot open the GPQA zip ({type(exc).__name__}); re-download dataset.zip") from None
    reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    _ = reader.fieldnames  # reading them consumes the header line
    rows, ended = [], reader.line_num
    for i, row in enumerate(reader):
        # GPQA fields hold newlines, so a record spans several lines: it starts after the previous one ended
        rows.append((f"{path}:{member} row {i + 1}", row, ended + 1))
        ended = reader.line_num
    return tuple(rows)
