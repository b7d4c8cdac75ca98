"""Debian's docker-compose 1.29 against `pyengine system service`: a two-service project whose
client reaches the web service by its service name, then `down` leaving nothing behind."""

from pathlib import Path

import pytest

from tests.support.api_service import ApiService, service_fixture
from tests.support.engine_cli import engine_fixture, wait_for

pytestmark = pytest.mark.root
engine = pytest.fixture(engine_fixture)
service = pytest.fixture(service_fixture)

PROJECT = """\
version: "3.8"
services:
  web:
    image: busybox
    command: sh -c "echo hello-from-web > /index.html && exec httpd -f -p 80 -h /"
  client:
    image: busybox
    command: sh -c "until wget -qO- http://web/index.html; do sleep 0.2; done; exec sleep 60"
    depends_on: [web]
networks:
  default:
    driver_opts:
      com.docker.network.bridge.name: {bridge}
    ipam:
      config: [{{subnet: "{subnet}"}}]
"""


def test_two_services_reach_each_other_by_name_and_down_leaves_nothing(
    service: ApiService, tmp_path: Path
) -> None:
    engine = service.engine
    (tmp_path / "docker-compose.yml").write_text(
        PROJECT.format(bridge=engine.user_bridge, subnet=engine.user_subnet)
    )
    up = service.compose("pyt", tmp_path, "up", "-d")
    assert up.returncode == 0, up.stderr
    assert "Creating pyt_web_1 ... done" in up.stderr, up.stderr
    names = service.docker_ok("ps", "--format", "{{.Names}}").split()
    assert sorted(names) == ["pyt_client_1", "pyt_web_1"]
    # The same containers through the other adapter, labelled as compose made them.
    label = engine.inspect("pyt_web_1")["Config"]["Labels"]
    assert label["com.docker.compose.project"] == "pyt"
    assert label["com.docker.compose.service"] == "web"

    def fetched() -> bool:
        return "hello-from-web" in service.compose("pyt", tmp_path, "logs", "client").stdout

    wait_for(fetched, 30, "the client's fetch of http://web/")
    ps = service.compose("pyt", tmp_path, "ps")
    assert ps.returncode == 0 and ps.stdout.count(" Up ") == 2, ps.stdout
    # A second `up` finds the project as it left it: same network, same containers.
    again = service.compose("pyt", tmp_path, "up", "-d")
    assert again.returncode == 0, again.stderr
    assert "pyt_web_1 is up-to-date" in again.stderr, again.stderr
    down = service.compose("pyt", tmp_path, "down")
    assert down.returncode == 0, down.stderr
    assert "Removing network pyt_default" in down.stderr
    assert engine.ok("ps", "-aq") == ""
    assert "pyt_default" not in engine.ok("network", "ls")
