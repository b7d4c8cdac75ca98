"""ps, port and inspect output in Docker's shapes."""

import json

from engine.containers import views
from engine.containers.ports import PortBinding, parse_publish
from engine.containers.record import ContainerConfig, ContainerRecord, HostConfig


def running(ports: tuple[PortBinding, ...]) -> ContainerRecord:
    record = ContainerRecord(
        id="f" * 64,
        name="web",
        created=1000.0,
        config=ContainerConfig(image="busybox", cmd=("httpd", "-f", "-p", "80", "-h", "/www")),
        host=HostConfig(ports=ports),
    )
    return record.with_state(status="running", started_at=1100.0, pid=7, ports=ports)


def test_ps_row_folds_ranges_and_cuts_the_command() -> None:
    bound = (
        *parse_publish("8000-8002:80-82"),
        *parse_publish("127.0.0.1:5353:53/udp"),
        *parse_publish("[::1]:9000:90"),
    )
    row = views.ps_row(running(bound), now=1160.0)
    assert row == (
        "ffffffffffff",
        "busybox",
        '"httpd -f -p 80 -h /…"',
        "2 minutes ago",
        "Up About a minute",
        "0.0.0.0:8000-8002->80-82/tcp, 127.0.0.1:5353->53/udp, [::1]:9000->90/tcp",
        "web",
    )
    exited = running(bound).with_state(status="exited", exit_code=3, finished_at=1100.0)
    assert views.ps_row(exited, now=1160.0)[4:6] == ("Exited (3) About a minute ago", "")


def test_table_pads_columns() -> None:
    text = views.table([views.PS_HEADER, views.ps_row(running(()), now=1101.0)])
    header, row = text.splitlines()
    assert header.index("IMAGE") == row.index("busybox") == len("CONTAINER ID") + 3
    assert header.endswith("NAMES") and row.endswith("web")


def test_port_lines() -> None:
    record = running((*parse_publish("8080:80"), *parse_publish("[::]:8080:80")))
    assert views.port_lines(record) == ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
    assert views.port_lines(record, "80") == ["0.0.0.0:8080", "[::]:8080"]
    assert views.port_lines(record, "80/udp") == []
    assert views.port_lines(record.with_state(status="exited")) == []


def test_inspect_is_json_with_dockers_keys() -> None:
    record = running(tuple(parse_publish("127.0.0.1:8080:80")))
    data = json.loads(json.dumps(views.inspect(record, "/x/log.json")))
    assert data["State"]["Running"] is True and data["State"]["Pid"] == 7
    assert data["State"]["FinishedAt"] == "0001-01-01T00:00:00Z"
    assert data["State"]["StartedAt"].startswith("1970-01-01T00:18:20.000000")
    assert data["Name"] == "/web" and data["Path"] == "httpd"
    assert data["NetworkSettings"]["Ports"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]
    }
    assert data["HostConfig"]["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
