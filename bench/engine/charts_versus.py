"""Chart panels of the issue-6 scenarios: pyengine (and `runc run`) as ratios to Docker."""

from typing import Any

Panel = tuple[str, str, dict[str, tuple[float, ...]], tuple[str, ...]]


def panels(results: dict[str, Any]) -> list[Panel]:
    out: list[Panel] = []
    run = results.get("run") or {}
    docker = run.get("docker run --rm", {}).get("median_ms")
    if docker:
        ratios: dict[str, tuple[float, ...]] = {
            n: (m["median_ms"] / docker,)
            for n, m in run.items()
            if n not in ("errors", "docker run --rm")
        }
        out.append(("run", "run --rm busybox true vs docker run --rm", ratios, ("median",)))
    for key, title, metrics in (
        (
            "ports",
            "run -d with {n} published ports vs Docker",
            (("ready", "ready_ms"), ("rm -f", "rm_ms"), ("PSS", "pss_mb"), ("RSS", "rss_mb")),
        ),
        (
            "many",
            "{n} running containers with a port each vs Docker",
            (("PSS", "pss_mb"), ("RSS", "rss_mb")),
        ),
    ):
        res = results.get(key) or {}
        py, dk = res.get("pyengine"), res.get("docker")
        if py and dk:
            n = res.get("ports", res.get("containers"))
            ratios = {str(label): (py[k] / dk[k],) for label, k in metrics if dk.get(k)}
            out.append((key, title.format(n=n), ratios, ("pyengine",)))
    return out
