"""mind.model.threads: the intra-op pool shrinks for a block and comes back, and the thread count follows the work's size."""

import pytest
import torch

from mind.model.threads import ELEMENTS_PER_THREAD, intra_op_threads, small_ops, threads_for


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_block_runs_on_fewer_threads_and_the_pool_comes_back(two_threads):
    with small_ops():
        assert torch.get_num_threads() == 1
        x = torch.randn(300_000)
        assert float((x + x).sub(2 * x).abs().max()) == 0.0  # work runs as usual on one thread
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="inside"):
        with intra_op_threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 2  # restored on error too
    with intra_op_threads(8):  # never more than the pool has
        assert torch.get_num_threads() == 2


def test_threads_follow_the_size_of_the_work(two_threads):
    assert threads_for(0) == 1 and threads_for(ELEMENTS_PER_THREAD - 1) == 1
    assert threads_for(2 * ELEMENTS_PER_THREAD) == 2
    assert threads_for(100 * ELEMENTS_PER_THREAD) == 2  # capped at the pool's size
    assert threads_for(3000, per_thread=1000) == 2
