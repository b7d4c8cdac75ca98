"""Image references normalize like Docker's; the table and units print like `docker images`."""

from datetime import UTC, datetime, timedelta

import pytest

from engine.images.display import human_duration, human_size, image_rows, table
from engine.images.errors import InvalidReferenceError
from engine.images.model import Image, ImageConfig, parse_time
from engine.images.reference import full_id, id_prefix, parse

HEX = "a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"


@pytest.mark.parametrize(
    "text",
    [
        "busybox",
        "busybox:latest",
        "library/busybox",
        "docker.io/busybox",
        "docker.io/library/busybox:latest",
        "index.docker.io/library/busybox",
    ],
)
def test_busybox_spellings_are_one_reference(text):
    ref = parse(text)
    assert str(ref) == "docker.io/library/busybox:latest"
    assert ref.familiar() == "busybox:latest"


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("user/app:1.0", "docker.io/user/app:1.0", "user/app:1.0"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/a/b:v_1", "localhost:5000/a/b:v_1", "localhost:5000/a/b:v_1"),
        ("ghcr.io/x/y", "ghcr.io/x/y:latest", "ghcr.io/x/y:latest"),
        ("my.reg:443/img@sha256:" + HEX, "my.reg:443/img@sha256:" + HEX, None),
        ("a__b.c-d---e", "docker.io/library/a__b.c-d---e:latest", "a__b.c-d---e:latest"),
    ],
)
def test_normalization(text, full, familiar):
    ref = parse(text)
    assert str(ref) == full
    if familiar:
        assert ref.familiar() == familiar


@pytest.mark.parametrize(
    "text",
    ["Busybox", "busy box", "", "busybox:", ":tag", "-app", "app-", "a//b", "a:b:c", "a/../b",
     "busybox:" + "t" * 129, HEX, "img@sha256:abc", "app@", "x" * 256],
)  # fmt: skip
def test_bad_references_are_refused(text):
    with pytest.raises(InvalidReferenceError, match="invalid reference format"):
        parse(text)


def test_uppercase_message_names_the_repository():
    with pytest.raises(InvalidReferenceError, match=r"repository name \(library/Busybox\)"):
        parse("Busybox")


def test_ids_and_prefixes():
    assert full_id(HEX) == "sha256:" + HEX
    assert full_id("sha256:" + HEX) == "sha256:" + HEX
    assert full_id(HEX[:12]) is None
    assert id_prefix("sha256:a416") == "a416"
    assert id_prefix("a416a98b71e2") == "a416a98b71e2"
    assert id_prefix("busybox") is None
    assert id_prefix("") is None


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (1_982_364, "1.98MB"), (4_260_000, "4.26MB"),
     (745_300, "745kB"), (1_200_000_000, "1.2GB")],
)  # fmt: skip
def test_human_size_is_go_units(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
     (59 * 60, "59 minutes"), (3600, "About an hour"), (47 * 3600, "47 hours"),
     (48 * 3600, "2 days"), (14 * 86400, "2 weeks"), (60 * 86400, "2 months"),
     (3 * 365 * 86400, "3 years")],
)  # fmt: skip
def test_human_duration_is_go_units(seconds, text):
    assert human_duration(seconds) == text


def test_images_table_matches_docker_columns():
    now = datetime(2026, 1, 15, tzinfo=UTC)
    image = Image(
        id="sha256:" + HEX, layers=(), config=ImageConfig(), created=now - timedelta(days=14),
        architecture="amd64", os="linux", size=4_260_000, tags=("busybox:latest",),
    )  # fmt: skip
    untagged = Image(
        id="sha256:" + "b" * 64, layers=(), config=ImageConfig(), created=None,
        architecture="amd64", os="linux", size=0,
    )  # fmt: skip
    assert table(image_rows([image, untagged], now=now)) == (
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n"
        "busybox      latest    a416a98b71e2   2 weeks ago   4.26MB\n"
        "<none>       <none>    bbbbbbbbbbbb   N/A           0B\n"
    )
    assert table(image_rows([])) == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"


def test_go_timestamps_with_nanoseconds_parse():
    when = parse_time("2024-05-01T12:00:00.123456789Z")
    assert when == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_time("garbage") is None
