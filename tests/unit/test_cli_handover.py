"""The fork server's hand-over request (engine/cli/handover.py): what the worker rebuilds."""

import pytest

from engine.cli import handover


def _roundtrip(req: handover.Request) -> handover.Request:
    data = handover.encode(req)
    assert handover.body_length(data[: handover.HEADER]) == len(data) - handover.HEADER
    return handover.decode(data[handover.HEADER :])


def test_roundtrip_keeps_every_field_including_non_utf8_and_empty_arguments() -> None:
    odd = b"caf\xe9".decode("utf-8", "surrogateescape")  # not UTF-8 on the command line
    req = handover.Request(
        "/usr/bin/pyengine",
        "/tmp/x y",
        0o027,
        ["run", "--rm", "", odd, "a=b"],
        {"PATH": "/bin", "EMPTY": "", "EQ": "a=b=c", odd: odd},
    )
    back = _roundtrip(req)
    assert (back.argv0, back.cwd, back.umask) == ("/usr/bin/pyengine", "/tmp/x y", 0o027)
    assert back.argv == req.argv
    assert back.env == req.env


def test_no_arguments_and_no_environment() -> None:
    back = _roundtrip(handover.Request("pyengine", "/", 0o22, [], {}))
    assert (back.argv, back.env) == ([], {})


def test_a_nul_byte_cannot_be_sent() -> None:
    with pytest.raises(ValueError, match="NUL"):
        handover.encode(handover.Request("pyengine", "/", 0, ["a\0b"], {}))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"other-protocol\0x\0/\x0022\x000",
        b"pyengine-handover-1\0x\0/\x0022\x003\0only-one",
        b"pyengine-handover-1\0x\0/\x0022\x000\0NOEQUALS",
    ],
)
def test_malformed_requests_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        handover.decode(body)


def test_short_header() -> None:
    with pytest.raises(ValueError):
        handover.body_length(b"0000")
