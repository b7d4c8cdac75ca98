"""engine/lifecycle/parallel.py: the background step overlaps the block, its result and its
error come back to the caller, and the thread is always joined."""

import threading

import pytest

from engine.lifecycle.parallel import Background


def test_both_steps_run_at_the_same_time_and_the_result_comes_back() -> None:
    barrier = threading.Barrier(2, timeout=10)  # broken (an error) unless both wait together

    def step(arg: str) -> str:
        barrier.wait()
        return arg.upper()

    with Background(step, "thread") as job:
        barrier.wait()
        assert job.result() == "THREAD"


def test_the_threads_error_comes_after_the_block_completes() -> None:
    done: list[str] = []

    def fail(arg: str) -> None:
        raise RuntimeError(f"failed {arg}")

    with pytest.raises(RuntimeError, match="failed x"), Background(fail, "x"):
        done.append("block")
    assert done == ["block"]


def test_result_raises_the_threads_error() -> None:
    def fail() -> int:
        raise ValueError("no value")

    with pytest.raises(ValueError, match="no value"), Background(fail) as job:
        job.result()


def test_the_blocks_error_wins_and_the_thread_is_still_joined() -> None:
    finished = threading.Event()

    def slow() -> None:
        finished.wait(0.05)
        finished.set()
        raise RuntimeError("second")

    with pytest.raises(KeyError), Background(slow):
        raise KeyError("block")
    assert finished.is_set()
