"""What the report says about the machine and the tools' versions."""

import os
import platform
import re
import subprocess
import sys
from typing import Any

from bench.context import Settings
from bench.targets import DOCKER_PROXY, HAPROXY, SOCAT
from bench.testbed import BRIDGE, NETNS, NS_IP, SUBNET
from bench.tools import IPERF3, WRK


def _first_line(argv: list[str], pattern: str = "") -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    text = proc.stdout + proc.stderr
    for line in text.splitlines():
        if re.search(pattern, line):
            return line.strip()
    return text.strip().splitlines()[0] if text.strip() else "?"


def _version(text: str) -> str:
    """The first version-looking word of a tool's banner."""
    found = re.search(r"\d+\.\d+[\w.+~-]*", text)
    return found.group(0) if found else text


def versions(pyproxy: str) -> dict[str, str]:
    return {
        "pyproxy": _version(_first_line([pyproxy, "-v"], "version")),
        "docker-proxy": _first_line(["dpkg-query", "-W", "-f", "${Version}", "docker.io"])
        + f" ({DOCKER_PROXY}, Debian docker.io)",
        "socat": _version(_first_line([SOCAT, "-V"], "socat version")),
        "haproxy": _version(_first_line([HAPROXY, "-v"], "version")),
        "iperf3": _version(_first_line([IPERF3, "-v"])),
        "wrk": _version(_first_line([WRK, "-v"]).replace("debian/", "")),
        "python": sys.version.split()[0],
    }


def collect(settings: Settings, pyproxy: str, argv: list[str]) -> dict[str, Any]:
    return {
        "command": " ".join(["python -m bench", *argv]),
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "versions": versions(pyproxy),
        "testbed": f"netns {NETNS} ({NS_IP}) behind bridge {BRIDGE}, subnet {SUBNET}",
        "settings": dict(vars(settings)),
    }
