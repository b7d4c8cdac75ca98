"""Docker's stdcopy framing: without a tty, stdout and stderr share one stream, each chunk behind
an 8-byte header (the stream: 0 stdin, 1 stdout, 2 stderr; three zero bytes; the length, big
endian). With a tty there is one stream and no framing."""

import struct

STREAM_IDS = {"stdin": 0, "stdout": 1, "stderr": 2}
HEADER = struct.Struct(">BxxxL")


def frame(stream: str, data: bytes) -> bytes:
    """One chunk of `stream` (`stdout` or `stderr`) as it goes on the wire."""
    return HEADER.pack(STREAM_IDS[stream], len(data)) + data


def output(stream: str, data: bytes, tty: bool) -> bytes:
    """A chunk as a client attached to a container with or without a tty reads it."""
    return data if tty else frame(stream, data)
