"""Legacy links on the default bridge (`--link TARGET[:ALIAS]`): a hosts line and Docker's
environment variables for the target, refusals with Docker's messages."""

import pytest

from tests.support.engine_cli import EngineEnv, engine_fixture

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)


def test_legacy_link_gives_hosts_line_and_environment(engine: EngineEnv) -> None:
    target = engine.ok("run", "-d", "--name", "db", "-e", "SECRET=s3", "--expose", "5432",
                       "busybox", "sleep", "300").strip()  # fmt: skip
    ip = engine.inspect("db")["NetworkSettings"]["IPAddress"]
    out = engine.ok("run", "--rm", "--name", "app", "--link", "db:database", "busybox", "sh",
                    "-c", "grep database /etc/hosts; env | grep ^DATABASE_ | sort")  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == f"{ip}\tdatabase {target[:12]} db"
    assert lines[1:] == [
        "DATABASE_ENV_SECRET=s3",
        "DATABASE_NAME=/app/database",
        f"DATABASE_PORT=tcp://{ip}:5432",
        f"DATABASE_PORT_5432_TCP=tcp://{ip}:5432",
        f"DATABASE_PORT_5432_TCP_ADDR={ip}",
        "DATABASE_PORT_5432_TCP_PORT=5432",
        "DATABASE_PORT_5432_TCP_PROTO=tcp",
    ]
    assert (
        engine("run", "--rm", "--link", "db", "busybox", "ping", "-c1", "-W2", "db").returncode == 0
    )


def test_link_refusals(engine: EngineEnv) -> None:
    missing = engine("create", "--link", "nosuch:x", "busybox")
    assert missing.returncode == 125
    assert "could not get container for nosuch: No such container: nosuch" in missing.stderr
    host = engine("create", "--network", "host", "--link", "a:b", "busybox")
    assert host.returncode == 125 and "can't be used with links" in host.stderr
    engine.ok("create", "--name", "stopped", "busybox", "true")
    done = engine("run", "--rm", "--name", "wants", "--link", "stopped:s", "busybox", "true")
    assert done.returncode == 125
    assert "Cannot link to a non running container: /stopped AS /wants/s" in done.stderr
    assert engine.ok("ps", "-aq").split() == [engine.inspect("stopped")["Id"][:12]]
