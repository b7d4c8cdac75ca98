"""One progress line per measurement on stderr, with the scenario's ETA."""

import sys
import time


class Progress:
    def __init__(self, scenario: str, steps: int) -> None:
        self.scenario = scenario
        self.steps = max(steps, 1)
        self.done = 0
        self.t0 = time.monotonic()

    def step(self, text: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.t0
        left = elapsed / self.done * (self.steps - self.done)
        print(
            f"[{self.scenario} {self.done}/{self.steps}] {text}  "
            f"(elapsed {elapsed:.0f} s, ETA {left:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
