"""Small-message round trips: 64-byte TCP ping-pong, and the UDP request/response rate."""

from bench.context import ECHO_PORT, Context
from bench.loadgen import pingpong, udp_request_response
from bench.scenarios.base import Metric, Outcome, Scenario
from bench.targets import Forward, Target, start


class PingPong(Scenario):
    name = "pingpong"
    title = "64-byte TCP ping-pong"
    metrics = (
        Metric("pingpong_p50_us", "ping-pong RTT p50", "us", "lower", "latency"),
        Metric("pingpong_p99_us", "ping-pong RTT p99", "us", "lower", "latency"),
    )

    def estimate(self, target: Target) -> float:
        per_rtt = 60e-6 if target.is_proxy else 30e-6
        return 0.3 + (self.settings.pingpong_count + self.settings.pingpong_warmup) * per_rtt

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        with start(ctx, target, [Forward("tcp", ctx.echo_port())]) as run:
            r = pingpong(
                run.addr("tcp"), self.settings.pingpong_count, self.settings.pingpong_warmup
            )
        out.add("pingpong_p50_us", r.p50_us)
        out.add("pingpong_p99_us", r.p99_us)
        return out


class UdpRequestResponse(Scenario):
    name = "udp-rr"
    title = "UDP request/response"
    metrics = (Metric("udp_rr_per_s", "UDP request/response", "resp/s", "higher", "rate"),)

    def applies(self, target: Target) -> bool:
        return target.udp

    def estimate(self, target: Target) -> float:
        return self.settings.udp_rr_seconds + 0.5

    def measure(self, ctx: Context, target: Target) -> Outcome:
        out = Outcome()
        s = self.settings
        with start(ctx, target, [Forward("udp", ECHO_PORT)]) as run:
            rate = udp_request_response(
                run.addr("udp"), s.udp_rr_sockets, s.udp_rr_window, s.udp_rr_seconds
            )
        out.add("udp_rr_per_s", rate)
        return out
