"""Network endpoints: list, inspect, create, remove, prune, in Docker's shapes."""

from typing import Any

from engine.api import filters
from engine.api.backend import Backend
from engine.api.http import HttpError, Reply, Request, Response
from engine.api.router import Router
from engine.api.translate import strings
from engine.containers.views import label_matches, network_id
from engine.lifecycle import joins
from engine.lifecycle.service import Engine
from engine.networks.service import NetworkCreate, NetworkService, NetworkView


def network_json(view: NetworkView) -> dict[str, Any]:
    cfg = view.config
    ipam = [{"Subnet": cfg["subnet"], "Gateway": cfg["gateway"]}]
    if cfg.get("subnet6"):
        ipam.append({"Subnet": cfg["subnet6"], "Gateway": cfg.get("gateway6") or ""})
    prefix = cfg["subnet"].rpartition("/")[2]
    containers = {
        e["container"]: {
            "Name": e["container"][:12], "EndpointID": network_id(e["container"]),
            "MacAddress": e["mac"],
            "IPv4Address": next((f"{ip}/{prefix}" for ip in e["ips"] if ":" not in ip), ""),
            "IPv6Address": "",
        }
        for e in view.endpoints
    }  # fmt: skip
    return {
        "Name": view.name, "Id": network_id(view.name), "Created": "0001-01-01T00:00:00Z",
        "Scope": "local", "Driver": "bridge", "EnableIPv6": bool(cfg.get("subnet6")),
        "IPAM": {"Driver": "default", "Options": {}, "Config": ipam},
        "Internal": bool(cfg.get("internal")), "Attachable": False, "Ingress": False,
        "Containers": containers,
        # The options given at create only (compose compares them with its own).
        "Options": dict(view.options),
        "Labels": dict(cfg.get("labels") or {}),
    }  # fmt: skip


def _container(request: Request) -> tuple[str, dict[str, Any]]:
    body = request.json()
    ref = body.get("Container") if isinstance(body, dict) else None
    if not isinstance(ref, str) or not ref:
        raise HttpError(400, "Container is required")
    return ref, body


class Networks:
    """Handlers over one Backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self, router: Router) -> None:
        router.add("GET", "/networks", self.listing)
        router.add("POST", "/networks/create", self.create)
        router.add("POST", "/networks/prune", self.prune)
        router.add("GET", "/networks/{name}", self.inspect)
        router.add("POST", "/networks/{name}/connect", self.connect)
        router.add("POST", "/networks/{name}/disconnect", self.disconnect)
        router.add("DELETE", "/networks/{name}", self.remove)

    def _by_name(self, ref: str, views: list[NetworkView]) -> str:
        for view in views:
            if ref in (view.name, network_id(view.name)) or (
                len(ref) >= 12 and network_id(view.name).startswith(ref)
            ):
                return view.name
        return ref  # unknown: the service says so in its own words

    async def listing(self, request: Request) -> Response:
        wanted = filters.parse(request.arg("filters"))
        views = await self.backend.networks(lambda service: service.networks())
        shown = [network_json(v) for v in views]
        return Reply(200, [n for n in shown if _matches(n, wanted)])

    async def connect(self, request: Request, name: str) -> Response:
        """`network connect`: at once when it runs, at its next start otherwise."""
        ref, body = _container(request)
        endpoint = body.get("EndpointConfig") or {}
        if not isinstance(endpoint, dict):
            raise HttpError(400, "invalid EndpointConfig: expected an object")
        aliases = strings(endpoint.get("Aliases"), "Aliases")
        ipam = endpoint.get("IPAMConfig") or {}
        ip = ipam.get("IPv4Address") or "" if isinstance(ipam, dict) else ""
        network = await self._name(name)

        def connect(engine: Engine) -> None:
            record = engine.store.find(ref)
            if record.host.network == network:
                return  # compose asks for the network it created the container on: done
            joins.connect(engine, ref, network, aliases, str(ip))

        await self.backend.call(connect)
        return Reply(200, b"", content_type="text/plain")

    async def disconnect(self, request: Request, name: str) -> Response:
        ref, _body = _container(request)
        network = await self._name(name)
        await self.backend.call(lambda engine: joins.disconnect(engine, ref, network))
        return Reply(200, b"", content_type="text/plain")

    async def _name(self, ref: str) -> str:
        views = await self.backend.networks(lambda service: service.networks())
        return self._by_name(ref, views)

    async def inspect(self, request: Request, name: str) -> Response:
        def one(service: NetworkService) -> NetworkView:
            (view,) = service.inspect((self._by_name(name, service.networks()),))
            return view

        return Reply(200, network_json(await self.backend.networks(one)))

    async def create(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("Name"), str):
            raise HttpError(400, "network create: Name is required")
        driver = body.get("Driver") or "bridge"
        if driver != "bridge":
            raise HttpError(400, f"network driver {driver!r} is not supported (bridge only)")
        ipam = (body.get("IPAM") or {}).get("Config") or [{}]
        v4: dict[str, str] = next((c for c in ipam if ":" not in (c.get("Subnet") or "")), {})
        v6: dict[str, str] = next((c for c in ipam if ":" in (c.get("Subnet") or "")), {})
        labels = body.get("Labels") or {}
        options = body.get("Options") or {}
        create = NetworkCreate(
            name=body["Name"], subnet=v4.get("Subnet") or "", gateway=v4.get("Gateway") or "",
            ip_range=v4.get("IPRange") or "", ipv6=bool(body.get("EnableIPv6")),
            subnet6=v6.get("Subnet") or "", internal=bool(body.get("Internal")),
            options=tuple((str(k), str(v)) for k, v in options.items()),
            labels=tuple((str(k), str(v)) for k, v in labels.items()),
        )  # fmt: skip
        name = await self.backend.networks(lambda service: service.create(create))
        return Reply(201, {"Id": network_id(name), "Warning": ""})

    async def remove(self, request: Request, name: str) -> Response:
        def remove(service: NetworkService) -> None:
            service.remove((self._by_name(name, service.networks()),))

        await self.backend.networks(remove)
        return Reply(204)

    async def prune(self, request: Request) -> Response:
        removed = await self.backend.networks(lambda service: service.prune())
        return Reply(200, {"NetworksDeleted": removed})


def _matches(network: dict[str, Any], wanted: filters.Filters) -> bool:
    checks = {
        "name": lambda values: any(v in network["Name"] for v in values),
        "id": lambda values: any(network["Id"].startswith(v) for v in values),
        "label": lambda values: label_matches(network["Labels"], values),
        "driver": lambda values: network["Driver"] in values,
        "scope": lambda values: network["Scope"] in values,
        "type": lambda values: "custom" in values,
    }
    unknown = set(wanted) - set(checks)
    if unknown:
        raise HttpError(400, f"invalid filter {sorted(unknown)[0]!r}")
    return all(checks[key](values) for key, values in wanted.items() if values)
