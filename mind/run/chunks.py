"""Parquet chunks of per-problem sample records: file names, exact encoding, atomic writes, checked reads.

A chunk ``samples/step_<lo>-<hi>.parquet`` holds the records of steps lo..hi, column by column (pyarrow types for
numbers, strings, booleans and lists of them). A column Parquet would not give back exactly (mixed types, nested
objects, ints beyond 64 bits, ints and floats mixed) is stored as JSON text, and keys a record lacks are listed in
the file's metadata, so :func:`decode` returns exactly the records ``json.loads`` gave for the lines the chunk
replaced. Chunks are written to a temporary name, fsynced and renamed; pages carry checksums, and a read checks them
and that every step lies in the range the name gives. Nothing is pickled. mind/run/samples.py uses them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mind.errors import RunDirError

CHUNK_DIR = "samples"
CHUNK_RE = re.compile(r"^step_(\d{6,})-(\d{6,})\.parquet$")
_META_JSON, _META_MISSING = b"mind.json_columns", b"mind.missing_keys"


@dataclass(frozen=True, order=True)
class Chunk:
    lo: int
    hi: int
    path: Path


def chunk_name(lo: int, hi: int) -> str:
    return f"step_{lo:06d}-{hi:06d}.parquet"


def _same(a, b) -> bool:
    """Equal and of the same JSON type all the way down (1 and 1.0 differ, True and 1 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _plain(t) -> bool:
    import pyarrow as pa

    if pa.types.is_list(t):
        return _plain(t.value_type)
    return (pa.types.is_null(t) or pa.types.is_boolean(t) or pa.types.is_int64(t) or pa.types.is_float64(t)
            or pa.types.is_string(t))


def _column(values: list):
    """A pyarrow array giving back exactly ``values``, or None (the caller stores JSON text instead)."""
    import pyarrow as pa

    try:
        arr = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    if not _plain(arr.type) or not all(_same(a, b) for a, b in zip(arr.to_pylist(), values)):
        return None
    return arr


def encode(records: list[dict]):
    """A pyarrow Table holding ``records`` exactly (see the module docstring)."""
    import pyarrow as pa

    keys = list(dict.fromkeys(k for r in records for k in r))
    missing = {k: [i for i, r in enumerate(records) if k not in r] for k in keys}
    missing = {k: v for k, v in missing.items() if v}
    arrays, as_json = [], []
    for k in keys:
        values = [r.get(k) for r in records]
        arr = _column(values)
        if arr is None:
            arr = pa.array([json.dumps(v, ensure_ascii=False, allow_nan=False) for v in values], type=pa.string())
            as_json.append(k)
        arrays.append(arr)
    meta = {_META_JSON: json.dumps(as_json).encode(), _META_MISSING: json.dumps(missing).encode()}
    return pa.Table.from_arrays(arrays, names=keys).replace_schema_metadata(meta)


def decode(table) -> list[dict]:
    """The records of a Table made by :func:`encode` (a ValueError when its metadata is not ours)."""
    meta = table.schema.metadata or {}
    as_json = json.loads(meta.get(_META_JSON, b"[]"))
    missing = json.loads(meta.get(_META_MISSING, b"{}"))
    if not isinstance(as_json, list) or not isinstance(missing, dict):
        raise ValueError("bad metadata")
    cols = {}
    for k in table.column_names:
        values = table.column(k).to_pylist()
        cols[k] = [json.loads(v) for v in values] if k in as_json else values
    n = table.num_rows
    rows = [{k: cols[k][i] for k in table.column_names} for i in range(n)]
    for k, idx in missing.items():
        for i in idx:
            rows[i].pop(k, None)
    return rows


def write_chunk(run_dir: Path, records: list[dict]) -> Path:
    """Write ``records`` (JSON-parsed, steps ascending) as one chunk, atomically; returns its path."""
    import pyarrow.parquet as pq

    steps = [int(r["step"]) for r in records]
    d = Path(run_dir) / CHUNK_DIR
    d.mkdir(exist_ok=True)
    final = d / chunk_name(min(steps), max(steps))
    tmp = d / f".{final.name}.{os.getpid()}.tmp"
    pq.write_table(encode(records), tmp, write_page_checksum=True)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return final


def _chunk_error(path: Path, why: str) -> RunDirError:
    return RunDirError(f"{path}: unreadable samples chunk ({why}); delete it or re-run the training")


def read_chunk(chunk: Chunk, lo: int | None = None, hi: int | None = None) -> list[dict]:
    """The records of one chunk with ``lo <= step <= hi`` (all by default)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(chunk.path, page_checksum_verification=True)
        step = table.column("step")
        if not (step.type.equals("int64") and step.null_count == 0 and len(step)):
            raise ValueError("no integer 'step' column")
        if pc.min(step).as_py() < chunk.lo or pc.max(step).as_py() > chunk.hi:
            raise ValueError(f"steps outside {chunk.lo}-{chunk.hi}")
        if lo is not None or hi is not None:
            keep = pc.and_(pc.greater_equal(step, lo if lo is not None else chunk.lo),
                           pc.less_equal(step, hi if hi is not None else chunk.hi))
            table = table.filter(keep)
        return decode(table)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types on garbage
        raise _chunk_error(chunk.path, type(exc).__name__) from None


def chunk_steps(chunk: Chunk) -> np.ndarray:
    """The step of every record of a chunk (reads that one column)."""
    import pyarrow.parquet as pq

    try:
        step = pq.read_table(chunk.path, columns=["step"], page_checksum_verification=True).column("step")
        if not step.type.equals("int64") or step.null_count:
            raise ValueError("no integer 'step' column")
        out = step.to_numpy()
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _chunk_error(chunk.path, type(exc).__name__) from None
    if not len(out) or out.min() < chunk.lo or out.max() > chunk.hi:
        raise _chunk_error(chunk.path, f"steps outside {chunk.lo}-{chunk.hi}")
    return out


def list_chunks(run_dir: Path) -> list[Chunk]:
    """The run's chunks in step order; overlapping chunks are a :class:`RunDirError`."""
    d = Path(run_dir) / CHUNK_DIR
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RunDirError(f"{d}: cannot list it ({exc.strerror}); it should be the folder of samples chunks") from None
    chunks = sorted(Chunk(int(m.group(1)), int(m.group(2)), d / n) for n in names if (m := CHUNK_RE.match(n)))
    for a, b in zip(chunks, chunks[1:]):
        if a.hi >= b.lo or a.lo > a.hi:
            raise RunDirError(f"{d}: chunks {a.path.name} and {b.path.name} overlap (corrupt run directory); "
                              "delete the one you trust less")
    if chunks and chunks[-1].lo > chunks[-1].hi:
        raise RunDirError(f"{chunks[-1].path}: steps {chunks[-1].lo}-{chunks[-1].hi} run backwards; delete it")
    return chunks
