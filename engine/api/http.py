"""HTTP/1.1 for the API server: h11 parses and frames, this module moves bytes.

h11 (python-hyper) is the parser, as the issue asks for a maintained one: it is sans-I/O, so
the same connection object serves plain replies, chunked streams (`logs -f`, `events`, `wait`)
and tells us where the request ends for a hijacked one (`attach`, `exec start`), whose raw bytes
then flow outside HTTP, as dockerd's hijack does.
"""

import asyncio
import json
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Any

import h11

MAX_BODY = 16 << 20  # a container create is a few KB
MAX_UPLOAD = 1 << 40  # an image archive (load, import): spooled to disk past MAX_BODY
UPLOADS = (("POST", "/images/load"), ("POST", "/images/create"))
MAX_HEAD = 64 << 10
READ_SIZE = 65536


class HttpError(Exception):
    """A request refused before it reached a handler: its status and Docker's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """One request: the path without its `/vX.Y` prefix, the query, headers (lower-case)."""

    method: str
    path: str
    api_version: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    # The body of an archive upload (UPLOADS), spooled; its handler reads and closes it.
    upload: IO[bytes] | None = None

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """Docker's boolean query values: 1/true/True are true, 0/false/empty are false."""
        value = self.arg(name)
        if not value:
            return default
        return value.lower() not in ("0", "false", "no")

    def integer(self, name: str, default: int) -> int:
        value = self.arg(name)
        if not value:
            return default
        try:
            return int(value)
        except ValueError:
            raise HttpError(400, f"invalid value for {name}: {value!r}") from None

    def json(self) -> Any:
        """The body as JSON; an empty body is an empty object, as dockerd reads it."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"invalid JSON: {exc}") from None

    def wants_upgrade(self) -> bool:
        return "upgrade" in self.headers.get("connection", "").lower()


@dataclass
class Reply:
    """A whole response; `body` is JSON-encoded unless it is bytes."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Stream:
    """A response whose body is produced as it goes (chunked): `chunks` yields the pieces."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hijack:
    """The connection leaves HTTP: `run` gets the raw reader and writer once the header is
    sent (101 when the client asked to upgrade, 200 otherwise, as dockerd answers)."""

    run: Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"


Response = Reply | Stream | Hijack
Handler = Callable[[Request], Awaitable[Response]]


def error_reply(status: int, message: str) -> Reply:
    return Reply(status, {"message": message})


def _parse_target(target: str) -> tuple[str, str, dict[str, list[str]]]:
    raw_path, _, raw_query = target.partition("?")
    path = urllib.parse.unquote(raw_path)
    version = ""
    if path.startswith("/v"):
        head, sep, rest = path[2:].partition("/")
        if sep and head.replace(".", "").isdigit():
            version, path = head, "/" + rest
    return path, version, urllib.parse.parse_qs(raw_query, keep_blank_values=True)


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(READ_SIZE))


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
    event = await _next_event(conn, reader)
    if isinstance(event, h11.ConnectionClosed):
        return None
    if not isinstance(event, h11.Request):
        raise HttpError(400, "malformed request")
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
    path, version, query = _parse_target(event.target.decode("latin-1"))
    method = event.method.decode()
    uploading = (method, path) in UPLOADS
    limit = MAX_UPLOAD if uploading else MAX_BODY
    if int(headers.get("content-length") or 0) > limit:  # refused before it is read
        raise HttpError(413, f"request body larger than {limit} bytes")
    # An image archive may be gigabytes: it goes to a spool (memory, then a temporary file).
    upload = (  # closed by its handler, or below on failure
        tempfile.SpooledTemporaryFile(MAX_BODY)  # noqa: SIM115
        if uploading
        else None
    )
    body = bytearray()
    size = 0
    try:
        while True:
            part = await _next_event(conn, reader)
            if isinstance(part, h11.Data):
                size += len(part.data)
                if size > limit:
                    raise HttpError(413, f"request body larger than {limit} bytes")
                if upload is not None:
                    upload.write(part.data)
                else:
                    body += part.data
            elif isinstance(part, h11.EndOfMessage):
                break
            else:
                raise HttpError(400, "incomplete request body")
    except BaseException:
        if upload is not None:
            upload.close()
        raise
    if upload is not None:
        upload.seek(0)
    return Request(method, path, version, query, headers, bytes(body), upload)


def _head(status: int, content_type: str, extra: dict[str, str]) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), ("Api-Version", API_VERSION),
            ("Server", SERVER), ("Ostype", "linux"), *extra.items()]  # fmt: skip


API_VERSION = "1.41"
MIN_API_VERSION = "1.24"
SERVER = "pyengine"


async def _send(conn: h11.Connection, writer: asyncio.StreamWriter, *events: Any) -> None:
    for event in events:
        data = conn.send(event)
        if data:
            writer.write(data)
    await writer.drain()


async def _reply(
    conn: h11.Connection, writer: asyncio.StreamWriter, reply: Reply, head_only: bool
) -> None:
    if isinstance(reply.body, bytes):
        body = reply.body
    elif reply.body is None or reply.status == 204:
        body = b""
    else:
        body = json.dumps(reply.body).encode() + b"\n"
    headers = _head(reply.status, reply.content_type, reply.headers)
    headers.append(("Content-Length", str(len(body))))
    events: list[Any] = [h11.Response(status_code=reply.status, headers=headers)]
    if body and not head_only and reply.status not in (204, 304):
        events.append(h11.Data(data=body))
    await _send(conn, writer, *events, h11.EndOfMessage())


async def _stream(conn: h11.Connection, writer: asyncio.StreamWriter, stream: Stream) -> None:
    headers = _head(stream.status, stream.content_type, stream.headers)
    await _send(conn, writer, h11.Response(status_code=stream.status, headers=headers))
    async for chunk in stream.chunks:
        if chunk:
            await _send(conn, writer, h11.Data(data=chunk))
    await _send(conn, writer, h11.EndOfMessage())


async def _hijack(
    conn: h11.Connection,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: Request,
    hijack: Hijack,
) -> None:
    # Written by hand: after this header the connection carries the raw stream, in both
    # directions, which HTTP framing (h11's) cannot describe.
    if request.wants_upgrade():
        head = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
    else:
        head = "HTTP/1.1 200 OK\r\n"
    head += f"Content-Type: {hijack.content_type}\r\nApi-Version: {API_VERSION}\r\n\r\n"
    writer.write(head.encode())
    await writer.drain()
    leftover, _closed = conn.trailing_data
    await hijack.run(reader, writer, bytes(leftover))


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Requests in turn on one connection until the client closes it or it is hijacked."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    try:
        while True:
            try:
                request = await _read_request(conn, reader)
            except (HttpError, h11.RemoteProtocolError) as exc:
                status = exc.status if isinstance(exc, HttpError) else 400
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await _reply(conn, writer, error_reply(status, str(exc)), False)
                return
            if request is None:
                return
            response = await handler(request)
            if isinstance(response, Hijack):
                await _hijack(conn, reader, writer, request, response)
                return
            if isinstance(response, Stream):
                await _stream(conn, writer, response)
            else:
                await _reply(conn, writer, response, request.method == "HEAD")
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return
    except (ConnectionError, h11.LocalProtocolError, asyncio.IncompleteReadError):
        return  # the client went away mid-response: nothing to tell it
    finally:
        writer.close()
