"""How many CPU threads torch's intra-op pool uses for small tensor work in the training step.

torch splits any element-wise op over more than ~32k elements across its intra-op threads. That pays on an idle
machine, but each such op waits until every thread has run its share: where the cores are shared with other work
(a busy 2-core machine, several jobs per node), a thread that is not scheduled holds the op for a time slice, ~10 ms
per op measured here, against ~0.01-1 ms for the work itself. A MIND step has many such small ops beside the
student's big ones (MetaNet forward/backward and its optimiser, the calibrator, the tracking metrics, the
consistency term over the answer distributions), so they run on fewer threads: :func:`intra_op_threads` around
them, with :func:`threads_for` picking the count from the size of the work. GPU work is not affected.
"""

from __future__ import annotations

import contextlib

import torch

# One thread per this many elements of the largest tensor: a single thread does an element-wise op over 2^20
# float32 values in about a millisecond, the order of what waking another thread costs on a busy machine.
ELEMENTS_PER_THREAD = 1 << 20


def threads_for(numel: int, per_thread: int = ELEMENTS_PER_THREAD) -> int:
    """Threads for element-wise work over tensors of ``numel`` elements: 1 per ``per_thread`` elements, at least 1,
    at most the pool's current size."""
    return max(1, min(torch.get_num_threads(), int(numel) // per_thread))


@contextlib.contextmanager
def intra_op_threads(n: int = 1):
    """Run the block with at most ``n`` intra-op threads, then restore the pool's size (also on error)."""
    before = torch.get_num_threads()
    if n >= before:
        yield
        return
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def small_ops():
    """One intra-op thread, for work on (batch, K)-sized tensors: MetaNet, calibration, tracking, telemetry."""
    return intra_op_threads(1)
