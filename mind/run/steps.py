"""``Run.steps`` without re-reading the run: a DataFrame of steps.jsonl extended by what each refresh appends.

:func:`build_steps` is the one definition of the steps DataFrame (pandas' ``from_records`` over the records, the
expected columns added as NaN, an expected column holding only nulls made NaN floats too, duplicates of a step
resolved to the last, sorted by step); :func:`read_steps_full` applies it to the whole file, as every read did before
(the reference for the tests and the bench).

:class:`StepsFrame` gives the same DataFrame while parsing only appended lines. It keeps the frame of the complete
records read so far and concatenates the frame of the new ones when that is provably what ``from_records`` over
all records would give: no new record keys, steps that continue in increasing order, and for every column the same
dtype on both sides or one of the promotions pandas itself applies (int with float is float; a column of nulls
takes the other side's float or string dtype). Anything else (a new column, a step written twice, a mix pandas would
keep as objects) rebuilds the frame from the whole file once, so the result is always exactly the full read's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mind.errors import RunDirError
from mind.run.jsonl import read_jsonl
from mind.run.tail import JsonlTail

_MAX_STEP = 2**53  # steps are counters; anything larger is corruption (and would not survive a float column)


def step_of(record: dict, path: Path, i: int) -> int:
    """The integer ``step`` of record ``i`` (0-based), or a :class:`RunDirError` naming the file and record."""
    step = record.get("step")
    if isinstance(step, float) and step.is_integer():
        step = int(step)
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < _MAX_STEP:
        raise RunDirError(f"{path}: record {i + 1} has no integer 'step' (corrupt run file); delete that line or re-run the training")
    return step


def build_steps(rows: list[dict], cols: list[str]) -> pd.DataFrame:
    """The steps DataFrame of ``rows`` (whose ``step`` is already an int): the definition every reader matches."""
    return _build(rows, cols)[0]


def _all_none(s: pd.Series) -> bool:
    return s.dtype == object and all(v is None for v in s)


def _build(rows: list[dict], cols: list[str]) -> tuple[pd.DataFrame, dict]:
    """:func:`build_steps` and the records' keys in order of first appearance (the columns from_records made)."""
    df = pd.DataFrame.from_records(rows) if rows else pd.DataFrame(columns=cols)
    keys = dict.fromkeys(df.columns) if rows else {}
    for c in cols:
        if c not in df.columns or _all_none(df[c]):  # an expected column never written (e.g. uniform's loss_meta)
            df[c] = np.nan                           # is a float column of NaN, not objects that format as None
    if len(df):
        df = df.drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)
        df["step"] = df["step"].astype(int)
    return df, keys


def read_steps_full(path: Path, cols: list[str]) -> pd.DataFrame:
    """The steps DataFrame from a full read of ``path`` (the reader before incremental reads; kept as reference)."""
    rows = read_jsonl(path)
    for i, r in enumerate(rows):
        r["step"] = step_of(r, path, i)
    return build_steps(rows, cols)


# ---------------------------------------------------------------------------------------------- exact appending

_MISSING = object()  # a column the new records do not have at all (from_records fills NaN)


def _nulls_like(dtype, n: int) -> pd.Series:
    return pd.Series([np.nan] * n, dtype=dtype)


def _merge(old: pd.Series, new, n: int):
    """(old, new) recast so that concatenating them is what from_records over both parts gives; None if unsure."""
    if new is _MISSING:
        if old.dtype == np.float64 or pd.api.types.is_string_dtype(old.dtype) and old.dtype != object:
            return old, _nulls_like(old.dtype, n)
        if old.dtype == np.int64 or _all_none(old):
            return old.astype(np.float64) if old.dtype == np.int64 else _nulls_like(np.float64, len(old)), _nulls_like(np.float64, n)
        return None
    if old.dtype == new.dtype:
        return old, new
    kinds = {str(old.dtype), str(new.dtype)}
    if kinds == {"int64", "float64"}:
        return old.astype(np.float64), new.astype(np.float64)
    for a, b, flip in ((old, new, False), (new, old, True)):
        if _all_none(b):  # a column of nulls on one side: pandas keeps the other side's float or string dtype
            if a.dtype == np.float64 or a.dtype == np.int64:
                a2, b2 = a.astype(np.float64), _nulls_like(np.float64, len(b))
            elif pd.api.types.is_string_dtype(a.dtype) and a.dtype != object:
                a2, b2 = a, _nulls_like(a.dtype, len(b))
            else:
                continue
            return (b2, a2) if flip else (a2, b2)
    return None


def extend_steps(old: pd.DataFrame, old_keys: dict, new_rows: list[dict], cols: list[str]) -> pd.DataFrame | None:
    """``build_steps(old_rows + new_rows)`` from ``old = build_steps(old_rows)``, or None when not provably equal."""
    if not new_rows:
        return old
    if not len(old):
        return None
    steps = [r["step"] for r in new_rows]
    if steps[0] <= int(old["step"].iloc[-1]) or any(b <= a for a, b in zip(steps, steps[1:])):
        return None
    if any(k not in old_keys for r in new_rows for k in r):
        return None
    new = pd.DataFrame.from_records(new_rows)
    n = len(new)
    old_cols, new_cols = {}, {}
    changed = False
    for c in old.columns:
        oc = old[c]
        merged = _merge(oc, new[c] if c in new.columns else _MISSING, n)
        if merged is None:
            return None
        o, v = merged
        changed |= o is not oc
        old_cols[c], new_cols[c] = o, v.reset_index(drop=True)
    base = pd.DataFrame(old_cols) if changed else old
    out = pd.concat([base, pd.DataFrame(new_cols, columns=old.columns)], ignore_index=True)
    return out


class StepsFrame:
    """The incrementally maintained steps DataFrame of one steps.jsonl (not thread-safe; the caller locks)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rebuilds = 0  # full re-reads (the first read included): for tests and the bench
        self._clear()

    def _clear(self) -> None:
        self.tail = JsonlTail(self.path)
        self._df: pd.DataFrame | None = None   # frame of the committed (newline-terminated) records
        self._keys: dict = {}                   # their keys in order of first appearance
        self._cols: list[str] | None = None

    def _normalise(self, rows: list[dict], first: int) -> list[dict]:
        for j, r in enumerate(rows):
            r["step"] = step_of(r, self.path, first + j)
        return rows

    def _rebuild(self, cols: list[str]) -> pd.DataFrame:
        """Re-read the whole file: the frame of its complete records, plus the provisional one if any."""
        self.tail = JsonlTail(self.path)
        delta = self.tail.refresh()
        rows = self._normalise(delta.records, 0)
        self._df, self._keys = _build(rows, cols)
        self.rebuilds += 1
        if delta.provisional is None:
            return self._df
        prov = self._normalise([delta.provisional], len(rows))
        return build_steps(rows + prov, cols)

    def read(self, cols: list[str]) -> pd.DataFrame:
        """The steps DataFrame of the file as it is now (a shallow copy; the cached frame is never handed out)."""
        try:
            return self._read(list(cols)).copy(deep=False)
        except Exception:  # a corrupt record: forget everything, so the next read raises the same error
            self._clear()
            raise

    def _read(self, cols: list[str]) -> pd.DataFrame:
        if cols != self._cols or self._df is None:
            self._cols = cols
            return self._rebuild(cols)
        delta = self.tail.refresh()
        if delta.reset:
            return self._rebuild(cols)
        rows = self._normalise(delta.records, delta.first_index)
        df = extend_steps(self._df, self._keys, rows, cols)
        if df is None:
            return self._rebuild(cols)
        self._df = df
        if delta.provisional is None:
            return df
        prov = self._normalise([delta.provisional], delta.first_index + len(rows))
        df = extend_steps(self._df, self._keys, prov, cols)
        return df if df is not None else self._rebuild(cols)
