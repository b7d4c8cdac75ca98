"""Stand-in runtimes for tests: wrappers around runc and runtimes that fail on purpose."""

from pathlib import Path

FAKES = Path(__file__).resolve().parent
RUNC_WRAPPER = FAKES / "runc_wrapper.sh"
FAILING_RUNTIME = FAKES / "failing_runtime.sh"
FAKE_RUNTIME = FAKES / "fake_runtime.py"
