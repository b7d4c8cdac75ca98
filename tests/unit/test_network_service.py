"""engine.networks: the requests' checks (before any kernel object is touched) and the kinds
bridge's errors become."""

from pathlib import Path

import pytest

from bridge import errors as bridge_errors
from engine.errors import InvalidParameterError, NotFoundError, StateConflictError
from engine.networks.errors import NetworkError, network_error
from engine.networks.service import NetworkCreate, NetworkService


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (NetworkCreate("n", subnet="10.0.0.0/33"), "invalid --subnet '10.0.0.0/33'"),
        (NetworkCreate("n", ip_range="nope"), "invalid --ip-range 'nope'"),
        (NetworkCreate("n", gateway="10.0.0.300"), "invalid --gateway '10.0.0.300'"),
        (NetworkCreate("n", ipv6=True), "--ipv6 and --subnet6 go together"),
        (NetworkCreate("n", options=(("x", "1"),)), "invalid option 'x=1': one of"),
        (
            NetworkCreate("n", options=(("com.docker.network.bridge.enable_icc", "maybe"),)),
            "not a boolean",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_field_before_anything_is_made(
    tmp_path: Path, request_: NetworkCreate, message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        NetworkService(str(tmp_path / "state")).create(request_)
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (bridge_errors.NetworkNotFoundError("no network n"), NotFoundError),
        (bridge_errors.NetworkInUseError("n has endpoints"), StateConflictError),
        (bridge_errors.NetworkExistsError("n exists"), StateConflictError),
        (bridge_errors.OverlapError("overlaps m"), StateConflictError),
        (bridge_errors.ConfigError("gateway outside"), InvalidParameterError),
    ],
)
def test_bridge_errors_become_the_engines_kinds(error: Exception, kind: type) -> None:
    mapped = network_error(error)
    assert isinstance(mapped, kind) and isinstance(mapped, NetworkError)
    assert str(mapped) == str(error)
