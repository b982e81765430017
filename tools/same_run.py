"""Are two run directories the same training, record for record? (issue 20's proof that a refactor changed nothing)

Compares steps.jsonl, samples (chunks and tail, through ``load_run``), calibration.json, probes.jsonl and the
hidden-state snapshots of two runs, ignoring what depends on the clock or the machine (``time_s``,
``tokens_per_s``, ``wall``, calibration's ``time_s``). Exit status 0 when every record is equal (floats exactly,
or within ``--rtol`` when given), 1 with the first differences printed otherwise::

    python tools/same_run.py runs/before runs/after
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TIMING = {"time_s", "tokens_per_s", "wall"}


def _same(a, b, rtol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or (rtol > 0 and abs(a - b) <= rtol * max(abs(a), abs(b)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rtol) for k in a)
    return a == b


def differences(a: Path, b: Path, rtol: float = 0.0, limit: int = 10) -> list[str]:
    import numpy as np

    from mind.run import load_run

    ra, rb = load_run(a), load_run(b)
    out = []
    for name, fa, fb in (("steps", ra.steps, rb.steps), ("samples", ra.samples, rb.samples)):
        cols = [c for c in fa.columns if c not in TIMING]
        if list(cols) != [c for c in fb.columns if c not in TIMING] or len(fa) != len(fb):
            out.append(f"{name}: shapes differ ({len(fa)} x {len(fa.columns)} vs {len(fb)} x {len(fb.columns)})")
            continue
        for i, (x, y) in enumerate(zip(fa[cols].to_dict("records"), fb[cols].to_dict("records"))):
            for k in cols:
                if not _same(_plain(x[k]), _plain(y[k]), rtol):
                    out.append(f"{name} row {i} {k}: {x[k]!r} != {y[k]!r}")
    ca, cb = (json.loads((r.path / "calibration.json").read_text()) if (r.path / "calibration.json").exists() else {}
              for r in (ra, rb))
    ca.pop("time_s", None), cb.pop("time_s", None)
    if not _same(ca, cb, rtol):
        out.append("calibration.json differs")
    if ra.snapshot_steps != rb.snapshot_steps:
        out.append(f"snapshot steps differ: {ra.snapshot_steps} vs {rb.snapshot_steps}")
    else:
        for s in ra.snapshot_steps:
            (xa, ma), (xb, mb) = ra.hidden_states(s), rb.hidden_states(s)
            if not (np.array_equal(xa, xb) if rtol == 0 else np.allclose(xa, xb, rtol=rtol, atol=0)) or not ma.equals(mb):
                out.append(f"snapshot {s} differs")
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def _plain(v):
    import numpy as np

    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--rtol", type=float, default=0.0, help="relative tolerance for floats (default: exact)")
    args = ap.parse_args(argv)
    diff = differences(args.a, args.b, args.rtol)
    print("\n".join(diff) if diff else f"same: {args.a} and {args.b} hold the same records (timing aside)")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
