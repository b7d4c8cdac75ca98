"""Bulk throughput: one iperf3 stream from the host, through the target, to the namespace.

TCP also reports the proxy's CPU seconds per GB moved (utime+stime of the process tree, reaped
children included, so socat's forks count). UDP goes through a TCP+UDP mapping on one port, as
iperf3 needs, unthrottled, and reports what arrived.
"""

import time

from bench import procfs
from bench.backends import iperf3_server
from bench.context import IPERF_PORT, Context
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.targets import Forward, Target, start
from bench.tools import iperf3


class TcpBulk(Scenario):
    name = "bulk"
    title = "Bulk TCP, one iperf3 stream"
    metrics = (
        Metric("tcp_gbps", "TCP throughput", "Gbit/s", "higher", "throughput"),
        Metric("tcp_cpu_s_per_gb", "proxy CPU per GB (TCP)", "CPU-s/GB", "lower", "cpu"),
    )

    def estimate(self, target: Target) -> float:
        return self.settings.bulk_seconds + 0.6

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        with iperf3_server(ctx), start(ctx, target, [Forward("tcp", IPERF_PORT)]) as run:
            cpu0 = procfs.tree_cpu_seconds(run.pids)
            result = iperf3(run.addr("tcp"), self.settings.bulk_seconds)
            time.sleep(0.2)  # let socat reap its forks (their time moves into cutime)
            cpu = procfs.tree_cpu_seconds(run.pids) - cpu0
        out.add("tcp_gbps", result.bits_per_second / 1e9)
        if target.is_proxy and result.bytes:
            out.add("tcp_cpu_s_per_gb", cpu / (result.bytes / 1e9))
        return out


class UdpBulk(Scenario):
    name = "udp-bulk"
    title = "Bulk UDP, iperf3 -u -b 0"
    metrics = (
        Metric("udp_mbps", "UDP throughput (received)", "Mbit/s", "higher", "throughput"),
        Metric("udp_loss_pct", "UDP loss", "%", "lower", "loss"),
    )

    def applies(self, target: Target) -> bool:
        return target.udp

    def estimate(self, target: Target) -> float:
        return self.settings.udp_bulk_seconds + 0.6

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        forwards = [Forward("tcp", IPERF_PORT), Forward("udp", IPERF_PORT)]
        with iperf3_server(ctx), start(ctx, target, forwards) as run:
            result = iperf3(
                run.addr("tcp"),
                self.settings.udp_bulk_seconds,
                udp=True,
                datagram=self.settings.udp_datagram,
            )
        out.add("udp_mbps", result.bits_per_second / 1e6)
        out.add("udp_loss_pct", result.lost_percent)
        return out
