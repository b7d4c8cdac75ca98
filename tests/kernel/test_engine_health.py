"""Health checks run by the shim: `healthy`, `unhealthy` and timeouts in `ps` and `inspect`,
through the CLI and through the API (docker run --health-cmd), and they stop with the task."""

import time

import pytest

from tests.support.api_service import ApiService, service_fixture
from tests.support.engine_cli import EngineEnv, engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)
FAST = ("--health-interval", "200ms", "--health-retries", "2")


def _status(engine: EngineEnv, name: str) -> str:
    return str(engine.inspect(name)["State"]["Health"]["Status"])


def test_healthy_unhealthy_and_timeouts(engine: EngineEnv) -> None:
    engine.ok("run", "-d", "--name", "good", "--health-cmd", "test -e /tmp/ready", *FAST,
              "busybox", "sh", "-c", "touch /tmp/ready; exec sleep 300")  # fmt: skip
    engine.ok("run", "-d", "--name", "bad", "--health-cmd", "echo broken; exit 3", *FAST,
              "busybox", "sleep", "300")  # fmt: skip
    engine.ok("run", "-d", "--name", "slow", "--health-cmd", "sleep 10", "--health-timeout",
              "300ms", *FAST, "busybox", "sleep", "300")  # fmt: skip
    engine.ok("run", "-d", "--name", "none", "busybox", "sleep", "300")
    wait_for(lambda: _status(engine, "good") == "healthy", 10, "good to be healthy")
    wait_for(lambda: _status(engine, "bad") == "unhealthy", 10, "bad to be unhealthy")
    wait_for(lambda: _status(engine, "slow") == "unhealthy", 10, "slow to time out")
    bad = engine.inspect("bad")["State"]["Health"]
    assert bad["FailingStreak"] >= 2 and bad["Log"][-1] | {"Start": 0, "End": 0} == {
        "Start": 0, "End": 0, "ExitCode": 3, "Output": "broken\n"}  # fmt: skip
    slow = engine.inspect("slow")["State"]["Health"]["Log"][-1]["Output"]
    assert "exceeded timeout" in slow
    rows = {line.split()[-1]: line for line in engine.ok("ps").splitlines()[1:]}
    assert "(healthy)" in rows["good"] and "(unhealthy)" in rows["bad"]
    assert "health" not in rows["none"] and "Health" not in engine.inspect("none")["State"]
    # They stop with the task: no check runs in a stopped container.
    engine.ok("stop", "-t", "0", "good")
    before = len(engine.inspect("good")["State"]["Health"]["Log"])
    time.sleep(0.6)
    assert len(engine.inspect("good")["State"]["Health"]["Log"]) == before
    bad_flag = engine("create", "--health-interval", "soon", "busybox")
    assert bad_flag.returncode == 125 and 'invalid duration "soon"' in bad_flag.stderr


def test_health_through_the_api(service: ApiService) -> None:
    service.docker_ok("run", "-d", "--name", "apihc", "--health-cmd", "true",
                      "--health-interval", "200ms", "busybox", "sleep", "300")  # fmt: skip

    def healthy() -> bool:
        out = service.docker_ok("inspect", "--format", "{{.State.Health.Status}}", "apihc")
        return out.strip() == "healthy"

    wait_for(healthy, 10, "the API to report healthy")
    assert "(healthy)" in service.docker_ok("ps", "--format", "{{.Status}}")
