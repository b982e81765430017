"""Which precision to compute in: ``precision=auto`` picks bf16 only where the device computes it fast.

- CUDA: bf16 where ``torch.cuda.is_bf16_supported()``, else fp32.
- CPU: a probe of about one second times ``n x n`` matrix products in fp32 and in bf16, interleaved, and compares
  their fastest times. bf16 when it is at least ``FAST_BF16`` (1.5) times faster: autocast's casts cost a little, so
  a marginal gain is not worth the lost precision. Measured, not guessed from ISA flags: on an AMX Xeon bf16
  products ran 4-20x faster than fp32, on an AVX2-only EPYC about 50x slower (a bf16 training step 23x slower).
  The result is cached per machine in ``$MIND_CACHE_DIR/precision/`` (default ``~/.cache/mind``), keyed by CPU model
  and torch version; in a multi-process launch the first local process measures and the others read its result.
- Any other device: fp32.

``MIND_PRECISION_AUTO=fp32`` (or ``bf16``) fixes what ``auto`` means without probing, for runs that must compute the
same on every machine (continuous integration; the test suite sets it). An explicit ``bf16`` where bf16 is slow is
honoured, with a warning that names the measured ratio. ``--resume`` keeps the precision recorded when the run
started (``precision_resolved`` in config.json), so a resumed run computes as it began.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from mind.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
FAST_BF16 = 1.5  # bf16 products at least this many times faster than fp32 count as fast
ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")  # what matters for fp32/bf16 speed
ENV_AUTO = "MIND_PRECISION_AUTO"


# --------------------------------------------------------------------------------------------- the machine


def _cpuinfo() -> dict[str, str]:
    """First processor's fields of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        out.setdefault(key.strip(), value.strip())
    return out


def cpu_model() -> str:
    """The CPU's model name (for example ``Intel(R) Xeon(R) Processor``), or the best the platform says."""
    return _cpuinfo().get("model name") or platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> list[str]:
    """Of :data:`ISA_FLAGS`, those the CPU reports (Linux /proc/cpuinfo; empty elsewhere)."""
    flags = set(_cpuinfo().get("flags", "").split())
    return [f for f in ISA_FLAGS if f in flags]


def machine_line() -> str:
    """One line naming the machine a figure comes from: CPU model, cores, ISA flags, torch, GPU if any."""
    import torch

    flags = " ".join(cpu_flags()) or "none of " + "/".join(ISA_FLAGS)
    gpu = f"; GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "; no GPU"
    return (f"{cpu_model()}, {os.cpu_count()} cpus, {torch.get_num_threads()} torch threads; ISA: {flags}; "
            f"torch {torch.__version__}{gpu}")


# --------------------------------------------------------------------------------------------- the probe


@dataclass(frozen=True)
class Probe:
    """One measurement: the fastest fp32 and bf16 ``n x n`` product on this CPU, in seconds."""

    cpu: str
    torch: str
    n: int
    fp32_s: float
    bf16_s: float

    @property
    def speedup(self) -> float:
        """How many times faster bf16 ran than fp32 (< 1: slower)."""
        return speedup([self.fp32_s], [self.bf16_s])

    def gflops(self, kind: str) -> float:
        return 2 * self.n**3 / getattr(self, f"{kind}_s") / 1e9


def speedup(fp32_times: list[float], bf16_times: list[float]) -> float:
    """bf16 speed-up from repeated timings of the same product: the ratio of the fastest times (the fastest run is
    the one least disturbed by other work on the machine)."""
    if not fp32_times or not bf16_times:
        raise ValueError("need at least one timing of each precision")
    return min(fp32_times) / max(min(bf16_times), 1e-12)


def is_fast(ratio: float) -> bool:
    return ratio >= FAST_BF16


def _torch_product(n: int) -> Callable[[str], None]:
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    pairs = {"fp32": (a, b), "bf16": (a.bfloat16(), b.bfloat16())}
    return lambda kind: torch.mm(*pairs[kind])


def measure(seconds: float = 1.0, n: int = 512, product: Callable[[str], None] | None = None,
            timer: Callable[[], float] = time.perf_counter) -> Probe:
    """Time ``product('fp32')`` and ``product('bf16')`` (default: torch.mm of n x n matrices) alternately, after one
    untimed call of each, until ``seconds`` have passed (at least one timed call of each; a very slow bf16 product
    thus ends the probe after one round)."""
    import torch

    product = product or _torch_product(n)
    product("fp32")
    product("bf16")
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    end = timer() + seconds
    while True:
        for kind in ("fp32", "bf16"):
            t = timer()
            product(kind)
            times[kind].append(timer() - t)
        if timer() >= end:
            break
    return Probe(cpu_model(), torch.__version__, n, min(times["fp32"]), min(times["bf16"]))


def cache_dir() -> Path:
    return Path(os.environ.get("MIND_CACHE_DIR") or Path.home() / ".cache" / "mind") / "precision"


def cache_file(cpu: str, torch_version: str, folder: Path | None = None) -> Path:
    """The probe's cache file for this CPU model and torch version."""
    key = f"{cpu}|{torch_version}"
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", key).strip("-")[:60]
    return (folder or cache_dir()) / f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.json"


def cached_probe(folder: Path | None = None, measure_fn: Callable[[], Probe] = measure, wait_s: float = 120.0) -> Probe:
    """The probe for this machine: read from the cache, else measured (about a second) and cached. A process that
    is not the first of its machine in a launch (``LOCAL_RANK`` > 0) waits up to ``wait_s`` for the first one's
    result, so that all processes decide alike."""
    import torch

    path = cache_file(cpu_model(), torch.__version__, folder)
    deadline = time.monotonic() + (wait_s if int(os.environ.get("LOCAL_RANK", "0") or 0) > 0 else 0)
    while True:
        try:
            return Probe(**{k: v for k, v in json.loads(path.read_text()).items() if k in Probe.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    probe = measure_fn()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**asdict(probe), "speedup": probe.speedup, "measured_at": time.time(),
                               "isa": cpu_flags()}, indent=1))
    os.replace(tmp, path)
    return probe


# --------------------------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Resolved:
    """What a requested precision means on this machine."""

    requested: str
    precision: str  # "fp32" or "bf16"
    reason: str
    bf16_speedup: float | None = None  # measured on this CPU (None: not probed)
    warning: str | None = None

    def record(self) -> dict:
        """The fields a run records in config.json."""
        return {"precision_resolved": self.precision, "precision_reason": self.reason, "bf16_speedup": self.bf16_speedup}


def resolve(requested: str, device_type: str | None = None, *, probe: Callable[[], Probe] = cached_probe,
            cuda_bf16: bool | None = None) -> Resolved:
    """Resolve ``requested`` (auto, fp32, bf16) for ``device_type`` (default: cuda when available, else cpu)."""
    import torch

    if requested not in PRECISIONS:
        raise ConfigError(f"precision={requested!r} is invalid; use one of {', '.join(PRECISIONS)}")
    if requested == "fp32":
        return Resolved(requested, "fp32", "asked for fp32")
    forced = os.environ.get(ENV_AUTO, "").strip()
    if requested == "auto" and forced:
        if forced not in ("fp32", "bf16"):
            raise ConfigError(f"{ENV_AUTO}={forced!r} is invalid; set it to fp32 or bf16, or unset it")
        return Resolved(requested, forced, f"{ENV_AUTO}={forced}")
    device_type = device_type or ("cuda" if torch.cuda.is_available() else "cpu")
    if device_type == "cuda":
        ok = torch.cuda.is_bf16_supported() if cuda_bf16 is None else cuda_bf16
        name = torch.cuda.get_device_name() if torch.cuda.is_available() else "this GPU"
        reason = f"{name} {'supports' if ok else 'does not support'} bf16"
        if requested == "auto":
            return Resolved(requested, "bf16" if ok else "fp32", reason)
        return Resolved(requested, "bf16", reason, warning=None if ok else f"precision=bf16 on {name}, which does not "
                        "support bf16: expect errors or emulation; use precision=auto or fp32")
    if device_type != "cpu":
        if requested == "auto":
            return Resolved(requested, "fp32", f"no bf16 probe for device {device_type!r}")
        return Resolved(requested, "bf16", f"asked for bf16 on {device_type}")
    p = probe()
    ratio = p.speedup
    fast = is_fast(ratio)
    reason = (f"{p.cpu}: bf16 matmul {ratio:.2f}x the fp32 speed ({p.gflops('bf16'):.0f} vs {p.gflops('fp32'):.0f} "
              f"GFLOP/s, {p.n}x{p.n}; bf16 when >= {FAST_BF16}x)")
    if requested == "auto":
        return Resolved(requested, "bf16" if fast else "fp32", reason, ratio)
    warning = None
    if not fast:
        slower = f"about {1 / ratio:.0f}x slower than fp32" if ratio < 0.5 else "hardly faster than fp32, if at all"
        warning = (f"precision=bf16 on {p.cpu}, whose bf16 matmul measured {ratio:.2f}x the fp32 speed: training "
                   f"will be {slower}; use precision=auto (fp32 here) or fp32")
    return Resolved(requested, "bf16", reason, ratio, warning)


def resolve_for_run(requested: str, run_dir: str | Path | None = None, **kw) -> Resolved:
    """:func:`resolve`, except that a run being resumed (``run_dir`` with a config.json) keeps the precision it
    recorded when it started; a run from before ``precision`` existed computed in fp32."""
    if run_dir is not None:
        try:
            saved = json.loads((Path(run_dir) / "config.json").read_text())
        except (OSError, ValueError):
            saved = None
        if isinstance(saved, dict):
            recorded = saved.get("precision_resolved") if "precision" in saved else "fp32"
            if recorded == "fp32":
                return Resolved(requested, "fp32", "recorded when the run started")
            if recorded == "bf16":
                r = resolve("bf16", **kw)
                return Resolved(requested, "bf16", "recorded when the run started", r.bf16_speedup, r.warning)
    return resolve(requested, **kw)


def resolve_name(requested: str, device: str | None = None) -> str:
    """``auto`` resolved to ``fp32`` or ``bf16`` for the torch device ``device`` (``"cpu"``, ``"cuda:0"``; None: cuda
    when available, else cpu); ``fp32`` and ``bf16`` unchanged, without probing (``mind eval --precision``)."""
    if requested != "auto":
        return requested
    return resolve("auto", device.split(":")[0] if device else None).precision
