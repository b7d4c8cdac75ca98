"""The API server's pure parts: Docker's create body to RunFlags, routing and error statuses,
stdcopy frames, and HTTP framing over an in-memory stream."""

import asyncio
import json
import re

import pytest

from engine.api import frames, translate
from engine.api.http import HttpError, Reply, Request, Response, serve_connection
from engine.api.router import Router, status_of
from engine.containers.errors import ConflictError, InvalidOptionError, NoSuchContainerError
from engine.containers.flags import RunFlags
from engine.errors import EngineError


def test_create_body_becomes_the_clis_flags() -> None:
    body = {
        "Image": "busybox", "Cmd": ["sh", "-c", "x"], "Env": ["A=1", "FROM_CLIENT"],
        "WorkingDir": "/w", "User": "1:2", "Tty": True, "OpenStdin": True,
        "Entrypoint": ["/bin/sh"], "ExposedPorts": {"90/udp": {}},
        "StopSignal": "SIGINT", "StopTimeout": 3,
        "HostConfig": {
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                             "53/udp": [{"HostIp": "", "HostPort": ""}],
                             "81/tcp": [{"HostIp": "::1", "HostPort": "9"}]},
            "AutoRemove": True, "NetworkMode": "default", "Init": True,
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2},
            "Memory": 1048576, "NanoCpus": 1500000000, "PidsLimit": 7,
        },
    }  # fmt: skip
    flags = translate.create_flags(body, "web")
    assert flags == RunFlags(
        image="busybox", command=("sh", "-c", "x"), name="web", env=("A=1",), workdir="/w",
        user="1:2", entrypoint="/bin/sh", tty=True, interactive=True, detach=True,
        auto_remove=True, publish=("127.0.0.1:8080:80/tcp", "53/udp", "[::1]:9:81/tcp"),
        expose=("90/udp",), network="bridge", restart="on-failure:2", init=True,
        memory="1048576", cpus="1.5", pids_limit=7, stop_signal="SIGINT", stop_timeout=3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "expected a JSON object"),
        ({}, "Image is required"),
        ({"Image": 5}, "invalid Image"),
        ({"Image": "b", "Cmd": [1]}, "invalid Cmd"),
        ({"Image": "b", "Tty": "yes"}, "invalid Tty"),
        ({"Image": "b", "HostConfig": {"Memory": True}}, "invalid Memory"),
        ({"Image": "b", "HostConfig": {"PortBindings": "80"}}, "invalid PortBindings"),
        ({"Image": "b", "HostConfig": "x"}, "invalid HostConfig"),
    ],
)
def test_bad_create_bodies_name_the_field(body: object, message: str) -> None:
    with pytest.raises(HttpError, match=message) as refused:
        translate.create_flags(body, "")
    assert refused.value.status == 400


def test_error_kinds_map_to_dockers_statuses() -> None:
    assert status_of(NoSuchContainerError("x")) == 404
    assert status_of(ConflictError("busy")) == 409
    assert status_of(InvalidOptionError("bad")) == 400
    assert status_of(EngineError("ours")) == 500


def test_frames_are_stdcopy() -> None:
    assert frames.frame("stdout", b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frames.frame("stderr", b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    assert frames.output("stderr", b"raw", tty=True) == b"raw"


def _exchange(router: Router, raw: bytes) -> bytes:
    """Feed `raw` to one connection over in-memory streams; what the server wrote back."""

    class Sink:
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            pass

        def close(self) -> None:
            pass

    async def run() -> bytes:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        sink = Sink()
        await serve_connection(reader, sink, router)  # type: ignore[arg-type]
        return bytes(sink.data)

    return asyncio.run(run())


def _router() -> Router:
    router = Router()

    async def show(request: Request, ref: str) -> Response:
        if ref == "missing":
            raise NoSuchContainerError(ref)
        if ref == "bug":
            raise RuntimeError("a bug")
        return Reply(200, {"ref": ref, "version": request.api_version, "all": request.flag("all")})

    router.add("GET", "/things/{ref}/json", show)
    return router


def test_routes_strip_the_version_and_map_errors() -> None:
    out = _exchange(_router(), b"GET /v1.41/things/a%20b/json?all=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /things/missing/json HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /things/bug/json HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"POST /things/a/json HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 0\r\n\r\n"
                               b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")  # fmt: skip
    assert re.findall(rb"HTTP/1.1 (\d+) ", out) == [b"200", b"404", b"500", b"405", b"404"]
    bodies = [json.loads(body) for body in re.findall(rb"\r\n\r\n(\{.*?\})\n", out)]
    assert bodies[0] == {"ref": "a b", "version": "1.41", "all": True}
    assert bodies[1] == {"message": "No such container: missing"}
    assert bodies[2] == {"message": "internal error serving GET /things/bug/json"}
    assert b"Api-Version: 1.41" in out


def test_garbage_gets_a_400_and_the_connection_ends() -> None:
    out = _exchange(_router(), b"\x00\x01garbage\r\n\r\nGET /things/a/json HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ") and out.count(b"HTTP/1.1") == 1


def test_labels_aliases_and_list_filters() -> None:
    from engine.api import filters
    from engine.containers.flags import ImageDefaults
    from engine.containers.record import from_json, to_json
    from engine.containers.request import build_request

    body = {"Image": "busybox", "Cmd": ["true"], "Labels": {"a": "1", "b": ""},
            "HostConfig": {"NetworkMode": "proj_default"},
            "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["web"]}}},
            }  # fmt: skip
    flags = translate.create_flags(body, "proj_web_1")
    assert (flags.labels, flags.aliases, flags.network) == (("a=1", "b="), ("web",), "proj_default")
    request = build_request(flags, ImageDefaults(cmd=("sh",)), environ={})
    from engine.containers.record import ContainerRecord

    record = ContainerRecord("f" * 64, "proj_web_1", 1.0, request.config, request.host)
    assert from_json(to_json(record)) == record
    entry = translate.list_entry(record, 2.0)
    assert entry["Labels"] == {"a": "1", "b": ""}
    assert entry["NetworkSettings"]["Networks"]["proj_default"]["Aliases"] == ["web", "f" * 12]
    for wanted, match in [
        ('{"label": ["a=1"]}', True), ('{"label": ["a=2"]}', False), ('{"label": ["b"]}', True),
        ('{"label": {"a=1": true}}', True), ('{"name": ["web"]}', True),
        ('{"status": ["running"]}', False), ('{"id": ["fff"]}', True),
    ]:  # fmt: skip
        assert filters.container_matches(record, filters.parse(wanted)) is match, wanted
    with pytest.raises(HttpError, match="invalid filter 'bogus'"):
        filters.container_matches(record, filters.parse('{"bogus": ["x"]}'))
    aliased = {"EndpointsConfig": {"bridge": {"Aliases": ["x"]}}}
    on_bridge = {**body, "HostConfig": {}, "NetworkingConfig": aliased}
    with pytest.raises(InvalidOptionError, match="network-scoped alias"):
        build_request(translate.create_flags(on_bridge, ""), ImageDefaults(cmd=("sh",)))
