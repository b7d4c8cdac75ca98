"""engine/lifecycle/parallel.py: the step on the thread overlaps the block, and its error is
raised after the block has finished its own work."""

import threading

import pytest

from engine.lifecycle.parallel import concurrently


def test_both_steps_run_at_the_same_time() -> None:
    barrier = threading.Barrier(2, timeout=10)  # broken (an error) unless both wait together
    seen: list[str] = []

    def step(arg: str) -> None:
        barrier.wait()
        seen.append(arg)

    with concurrently(step, "thread"):
        barrier.wait()
        seen.append("block")
    assert sorted(seen) == ["block", "thread"]


def test_the_threads_error_comes_after_the_block_completes() -> None:
    done: list[str] = []

    def fail(arg: str) -> None:
        raise RuntimeError(f"failed {arg}")

    with pytest.raises(RuntimeError, match="failed x"), concurrently(fail, "x"):
        done.append("block")
    assert done == ["block"]


def test_the_blocks_error_still_joins_the_thread() -> None:
    finished = threading.Event()

    def slow(arg: str) -> None:
        finished.wait(0.05)
        finished.set()

    with pytest.raises(KeyError), concurrently(slow, "y"):
        raise KeyError("block")
    assert finished.is_set()
