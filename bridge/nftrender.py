"""Pure renderers of our nftables table as libnftables JSON commands (one list = one batch).

Layout (table `inet <T>`, plus `bridge <T>` for icc, both ours and nobody else's):

    maps   pm4_any_addr/pm4_any_port   proto . port            -> container addr / port
           pm4_ip_addr/pm4_ip_port     host ip . proto . port  -> container addr / port
           pm6_*                       the same for IPv6
           fwd_in/fwd_out/nat_in/nat_out   bridge ifname -> jump to that network's chain
    chains prerouting, output (nat)    fib daddr type local jump ports
           ports                       four dnat rules (per family), one lookup per map pair
           postrouting (nat)           oifname vmap @nat_in; iifname vmap @nat_out
           forward (filter)            oifname vmap @fwd_in; iifname vmap @fwd_out
           n-<br>-in/out/masq/hp       per network: isolation, internal, masquerade, hairpin
    bridge forward                     iifname @icc_ports oifname @icc_ports drop (icc off)

A published port is two map elements, so the rule count never depends on the number of ports,
and unrelated packets skip every per-network rule (verdict maps keyed on the bridge).

Why two plain-data maps per key instead of one `ipv4_addr . inet_service` data map: libnftables
1.0.6 segfaults on any map whose *data* is a concatenation (spec section 4); `check_batch` in
nftclient.py refuses such a declaration before it reaches the library.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Any

from bridge.config import NetworkConfig, PortMapping
from bridge.errors import ConfigError

Cmd = dict[str, Any]

PORT_MAPS4 = ("pm4_any_addr", "pm4_any_port", "pm4_ip_addr", "pm4_ip_port")
PORT_MAPS6 = ("pm6_any_addr", "pm6_any_port", "pm6_ip_addr", "pm6_ip_port")
PORT_MAPS = PORT_MAPS4 + PORT_MAPS6
JUMP_MAPS = {"fwd_in": "in", "fwd_out": "out", "nat_in": "hp", "nat_out": "masq"}
BASE_CHAINS = ("ports", "prerouting", "output", "postrouting", "forward")
ANY_KEY = ["inet_proto", "inet_service"]


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


def _payload(proto: str, fld: str) -> dict[str, Any]:
    return {"payload": {"protocol": proto, "field": fld}}


def _match(left: Any, right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _prefix(net: IPv4Network | IPv6Network) -> dict[str, Any]:
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _saddr(net: IPv4Network | IPv6Network) -> dict[str, Any]:
    return _match(_payload("ip" if net.version == 4 else "ip6", "saddr"), _prefix(net))


MASQ = {"masquerade": None}
DNATTED = _match({"ct": {"key": "status"}}, "dnat", "in")


class Renderer:
    """Renders commands for table `name` (inet and bridge families)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Renderer {self.name}>"

    def _obj(self, kind: str, family: str = "inet", **fields: Any) -> dict[str, Any]:
        return {kind: {"family": family, "table": self.name, **fields}}

    def _rule(self, chain: str, *expr: Any, family: str = "inet") -> Cmd:
        return {"add": self._obj("rule", family, chain=chain, expr=list(expr))}

    def tables(self) -> list[Cmd]:
        return [
            {"add": {"table": {"family": "inet", "name": self.name}}},
            {"add": {"table": {"family": "bridge", "name": self.name}}},
        ]

    def delete_tables(self) -> list[Cmd]:
        """Delete both tables; prefix with tables() so the batch works when they are absent."""
        return [
            *self.tables(),
            {"delete": {"table": {"family": "inet", "name": self.name}}},
            {"delete": {"table": {"family": "bridge", "name": self.name}}},
        ]

    def base(self) -> list[Cmd]:
        """Idempotent: tables, maps (never flushed), base chains flushed and refilled."""
        cmds = self.tables()
        for m in PORT_MAPS:
            addr_type = "ipv4_addr" if m.startswith("pm4") else "ipv6_addr"
            data = addr_type if m.endswith("addr") else "inet_service"
            key = ANY_KEY if "_any_" in m else [addr_type, *ANY_KEY]
            cmds.append({"add": self._obj("map", name=m, type=key, map=data)})
        for m in JUMP_MAPS:
            cmds.append({"add": self._obj("map", name=m, type="ifname", map="verdict")})
        cmds.append({"add": self._obj("set", "bridge", name="icc_ports", type="ifname")})
        hooks = {
            "prerouting": ("nat", "prerouting", -100),
            "output": ("nat", "output", -100),
            "postrouting": ("nat", "postrouting", 100),
            "forward": ("filter", "forward", 0),
        }
        for chain in BASE_CHAINS:
            spec: dict[str, Any] = {"name": chain}
            if chain in hooks:
                kind, hook, prio = hooks[chain]
                spec |= {"type": kind, "hook": hook, "prio": prio, "policy": "accept"}
            cmds.append({"add": self._obj("chain", **spec)})
            cmds.append({"flush": self._obj("chain", name=chain)})
        bfwd = {"name": "forward", "type": "filter", "hook": "forward", "prio": 0}
        cmds.append({"add": self._obj("chain", "bridge", **bfwd, policy="accept")})
        cmds.append({"flush": self._obj("chain", "bridge", name="forward")})
        local = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
        for chain in ("prerouting", "output"):
            cmds.append(self._rule(chain, local, {"jump": {"target": "ports"}}))
        for family, maps in (("ip", PORT_MAPS4), ("ip6", PORT_MAPS6)):
            nfproto = _match(_meta("nfproto"), "ipv4" if family == "ip" else "ipv6")
            for keys, amap, pmap in (
                ([_payload(family, "daddr"), _meta("l4proto"), _payload("th", "dport")], *maps[2:]),
                ([_meta("l4proto"), _payload("th", "dport")], *maps[:2]),
            ):
                concat: dict[str, Any] = {"concat": keys}
                dnat = {
                    "family": family,
                    "addr": {"map": {"key": concat, "data": f"@{amap}"}},
                    "port": {"map": {"key": concat, "data": f"@{pmap}"}},
                }
                cmds.append(self._rule("ports", nfproto, {"dnat": dnat}))
        vmaps: dict[str, tuple[str, str]] = {
            "postrouting": ("nat_in", "nat_out"),
            "forward": ("fwd_in", "fwd_out"),
        }
        for chain, (amap_in, amap_out) in vmaps.items():
            cmds.append(
                self._rule(chain, {"vmap": {"key": _meta("oifname"), "data": f"@{amap_in}"}})
            )
            cmds.append(
                self._rule(chain, {"vmap": {"key": _meta("iifname"), "data": f"@{amap_out}"}})
            )
        icc = [_match(_meta(k), "@icc_ports") for k in ("iifname", "oifname")]
        cmds.append(self._rule("forward", *icc, {"drop": None}, family="bridge"))
        return cmds

    @staticmethod
    def chain_of(cfg: NetworkConfig, part: str) -> str:
        return f"n-{cfg.bridge}-{part}"

    def network(self, cfg: NetworkConfig) -> list[Cmd]:
        """Idempotent: the network's four chains (flushed, refilled) and its vmap elements."""
        br = cfg.bridge
        rules: dict[str, list[list[Any]]] = {"in": [], "out": [], "masq": [], "hp": []}
        rules["in"].append(
            [_match({"ct": {"key": "state"}}, ["established", "related"], "in"), {"accept": None}]
        )
        # Bridged traffic reaches this hook too when br_netfilter is on (bridge-nf-call-*):
        # neighbours on the same bridge then pass or not by icc, as in Docker.
        icc = {"accept": None} if cfg.icc else {"drop": None}
        rules["in"].append([_match(_meta("iifname"), br), icc])
        if not cfg.internal:
            rules["in"].append([DNATTED, {"accept": None}])
        if cfg.isolate or cfg.internal:
            rules["in"].append([{"drop": None}])
        rules["out"].append([{"drop": None}] if cfg.internal else [{"accept": None}])
        if cfg.masquerade:
            for net in (cfg.subnet, cfg.subnet6):
                if net is not None:
                    rules["masq"].append([_match(_meta("oifname"), br, "!="), _saddr(net), MASQ])
        if cfg.hairpin and not cfg.internal:
            for net in (cfg.subnet, cfg.subnet6):
                if net is not None:
                    rules["hp"].append([DNATTED, _saddr(net), MASQ])
            rules["hp"].append([DNATTED, _saddr(IPv4Network("127.0.0.0/8")), MASQ])
        cmds: list[Cmd] = []
        for part, chain_rules in rules.items():
            chain = self.chain_of(cfg, part)
            cmds.append({"add": self._obj("chain", name=chain)})
            cmds.append({"flush": self._obj("chain", name=chain)})
            cmds += [self._rule(chain, *expr) for expr in chain_rules]
        for amap, part in JUMP_MAPS.items():
            elem = [[br, {"jump": {"target": self.chain_of(cfg, part)}}]]
            cmds.append({"add": self._obj("element", name=amap, elem=elem)})
        return cmds

    def delete_network(self, cfg: NetworkConfig) -> list[Cmd]:
        """Remove the vmap elements first (they reference the chains), then the chains."""
        cmds: list[Cmd] = [
            {"delete": self._obj("element", name=amap, elem=[cfg.bridge])} for amap in JUMP_MAPS
        ]
        for part in JUMP_MAPS.values():
            cmds.append({"delete": self._obj("chain", name=self.chain_of(cfg, part))})
        return cmds

    def port_elements(
        self, op: str, ports: tuple[PortMapping, ...], addr: str, addr6: str | None = None
    ) -> list[Cmd]:
        """`op` ("add", "create", "delete") the map elements publishing `ports` to `addr`
        (and to `addr6` for IPv6: wildcard ports are published on both families)."""
        groups: dict[str, list[Any]] = {m: [] for m in PORT_MAPS}

        def put(maps: tuple[str, ...], key: Any, target: str, port: int) -> None:
            groups[maps[0]].append(key if op == "delete" else [key, target])
            groups[maps[1]].append(key if op == "delete" else [key, port])

        for p in ports:
            if p.host_ip is None:
                key: Any = {"concat": [p.proto, p.host_port]}
                put(PORT_MAPS4[:2], key, addr, p.container_port)
                if addr6:
                    put(PORT_MAPS6[:2], key, addr6, p.container_port)
                continue
            key = {"concat": [str(p.host_ip), p.proto, p.host_port]}
            if p.host_ip.version == 4:
                put(PORT_MAPS4[2:], key, addr, p.container_port)
            elif addr6:
                put(PORT_MAPS6[2:], key, addr6, p.container_port)
            else:
                raise ConfigError(f"publish [{p.host_ip}]:{p.host_port}: the endpoint has no IPv6")
        return [
            {op: self._obj("element", name=m, elem=elems)} for m, elems in groups.items() if elems
        ]

    def icc_element(self, op: str, host_veth: str) -> list[Cmd]:
        return [{op: self._obj("element", "bridge", name="icc_ports", elem=[host_veth])}]

    def full(
        self, networks: list[NetworkConfig], endpoints: list[tuple[NetworkConfig, Any]]
    ) -> list[Cmd]:
        """Re-create the tables from scratch with everything in them (reload, GC): one batch.

        `endpoints` pairs a network with an EndpointRecord-like object (ipv4, ports, host_veth).
        """
        cmds = [*self.delete_tables(), *self.base()]
        for cfg in networks:
            cmds += self.network(cfg)
        for cfg, rec in endpoints:
            if rec.ports and rec.ipv4:
                cmds += self.port_elements("add", rec.ports, rec.ipv4, rec.ipv6)
            if not cfg.icc:
                cmds += self.icc_element("add", rec.host_veth)
        return cmds
