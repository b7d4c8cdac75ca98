"""The options of `create` and `run` (docker's names and help), and the RunFlags they make;
the `--sig-proxy` and `--detach-keys` options that `run`, `start` and `attach` share."""

from collections.abc import Callable
from typing import Any

import click

from engine.cli.attach import DEFAULT_DETACH_KEYS
from engine.containers.flags import RunFlags


def run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--name", default="", help="Assign a name to the container"),
        click.option("-e", "--env", multiple=True, help="Set environment variables"),
        click.option("-w", "--workdir", default="", help="Working directory inside the container"),
        click.option(
            "-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])"
        ),
        click.option(
            "--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image"
        ),
        click.option(
            "-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached"
        ),
        click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY"),
        click.option(
            "-p", "--publish", multiple=True, help="Publish a container's port(s) to the host"
        ),
        click.option(
            "-P", "--publish-all", is_flag=True, help="Publish all exposed ports to random ports"
        ),
        click.option("--expose", multiple=True, help="Expose a port or a range of ports"),
        click.option("-l", "--label", multiple=True, help="Set meta data on a container"),
        click.option(
            "--network-alias", multiple=True, help="Add network-scoped alias for the container"
        ),
        click.option(
            "--network",
            "--net",
            multiple=True,
            help="Connect a container to a network (again: to several, the first is its own)",
        ),
        click.option("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)"),
        click.option("--mac-address", default="", help="Container MAC address"),
        click.option("--domainname", default="", help="Container NIS domain name"),
        click.option(
            "--restart", default="no", help="Restart policy to apply when a container exits"
        ),
        click.option("--runtime", default="runc", help="Runtime to use for this container"),
        click.option(
            "--init",
            is_flag=True,
            help="Run an init inside the container that forwards signals and reaps processes",
        ),
        click.option("-m", "--memory", default="", help="Memory limit"),
        click.option("--cpus", default="", help="Number of CPUs"),
        click.option(
            "--pids-limit", type=int, default=0, help="Tune container pids limit (-1 for unlimited)"
        ),
        click.option("-v", "--volume", multiple=True, help="Bind mount a volume"),
        click.option("--mount", multiple=True, help="Attach a filesystem mount to the container"),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs directory"),
        click.option(
            "--read-only", is_flag=True, help="Mount the container's root filesystem as read only"
        ),
        click.option(
            "--volumes-from", multiple=True, help="Mount volumes from the specified container(s)"
        ),
        click.option("-h", "--hostname", default="", help="Container host name"),
        click.option("--add-host", multiple=True, help="Add a custom host-to-IP mapping (host:ip)"),
        click.option("--dns", multiple=True, help="Set custom DNS servers"),
        click.option("--dns-search", multiple=True, help="Set custom DNS search domains"),
        click.option("--dns-option", multiple=True, help="Set DNS options"),
        click.option("--link", multiple=True, help="Add link to another container"),
        click.option("--ulimit", multiple=True, help="Ulimit options (name=soft[:hard])"),
        click.option("--shm-size", default="", help="Size of /dev/shm"),
        click.option("--sysctl", multiple=True, help="Sysctl options"),
        click.option("--group-add", multiple=True, help="Add additional groups to join"),
        click.option("--memory-swap", default="", help="Memory+swap limit: '-1' unlimited"),
        click.option("-c", "--cpu-shares", type=int, default=0, help="CPU shares (weight)"),
        click.option("--cpuset-cpus", default="", help="CPUs in which to allow execution"),
        click.option("--oom-kill-disable", is_flag=True, help="Disable OOM Killer"),
        click.option("--pid", "pid_mode", default="", help="PID namespace to use"),
        click.option("--ipc", "ipc_mode", default="", help="IPC mode to use"),
        click.option("--privileged", is_flag=True, help="Give extended privileges"),
        click.option("--security-opt", multiple=True, help="Security Options"),
        click.option("--device", multiple=True, help="Add a host device to the container"),
        click.option("--cap-add", multiple=True, help="Add Linux capabilities"),
        click.option("--cap-drop", multiple=True, help="Drop Linux capabilities"),
        click.option("--health-cmd", default="", help="Command to run to check health"),
        click.option("--health-interval", default="", help="Time between running the check"),
        click.option("--health-timeout", default="", help="Maximum time to allow one check"),
        click.option(
            "--health-start-period", default="", help="Start period for the container to initialize"
        ),
        click.option(
            "--health-retries",
            type=int,
            default=0,
            help="Consecutive failures needed to report unhealthy",
        ),
        click.option(
            "--no-healthcheck", is_flag=True, help="Disable any container-specified HEALTHCHECK"
        ),
        click.option("--stop-signal", default="", help="Signal to stop the container"),
        click.option(
            "--log-opt", multiple=True, help="json-file options: max-size=SIZE, max-file=N"
        ),
        click.option(
            "--stop-timeout",
            type=int,
            default=None,
            help="Timeout (in seconds) to stop a container",
        ),
        click.option(
            "--rm",
            "auto_remove",
            is_flag=True,
            help="Automatically remove the container when it exits",
        ),
        click.argument("image"),
        click.argument("command", nargs=-1, type=click.UNPROCESSED),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def run_flags(values: dict[str, Any], detach: bool = True) -> RunFlags:
    return RunFlags(
        image=values["image"],
        command=tuple(values["command"]),
        name=values["name"],
        env=tuple(values["env"]),
        workdir=values["workdir"],
        user=values["user"],
        entrypoint=values["entrypoint"],
        tty=values["tty"],
        interactive=values["interactive"],
        detach=detach,
        auto_remove=values["auto_remove"],
        publish=tuple(values["publish"]),
        publish_all=values["publish_all"],
        expose=tuple(values["expose"]),
        network=(values["network"] or ("bridge",))[0],
        extra_networks=tuple(values["network"][1:]),
        ip=values["ip"],
        mac_address=values["mac_address"],
        health_cmd=values["health_cmd"],
        health_interval=values["health_interval"],
        health_timeout=values["health_timeout"],
        health_start_period=values["health_start_period"],
        health_retries=values["health_retries"],
        no_healthcheck=values["no_healthcheck"],
        domainname=values["domainname"],
        restart=values["restart"],
        runtime=values["runtime"],
        init=values["init"],
        memory=values["memory"],
        cpus=values["cpus"],
        pids_limit=values["pids_limit"],
        log_opts=tuple(values["log_opt"]),
        stop_signal=values["stop_signal"],
        stop_timeout=values["stop_timeout"],
        labels=tuple(values["label"]),
        aliases=tuple(values["network_alias"]),
        volumes=tuple(values["volume"]),
        mounts=tuple(values["mount"]),
        tmpfs=tuple(values["tmpfs"]),
        read_only=values["read_only"],
        volumes_from=tuple(values["volumes_from"]),
        hostname=values["hostname"],
        add_hosts=tuple(values["add_host"]),
        dns=tuple(values["dns"]),
        dns_search=tuple(values["dns_search"]),
        dns_options=tuple(values["dns_option"]),
        cap_add=tuple(values["cap_add"]),
        cap_drop=tuple(values["cap_drop"]),
        links=tuple(values["link"]),
        ulimits=tuple(values["ulimit"]),
        shm_size=values["shm_size"],
        sysctls=tuple(values["sysctl"]),
        group_add=tuple(values["group_add"]),
        memory_swap=values["memory_swap"],
        cpu_shares=values["cpu_shares"],
        cpuset_cpus=values["cpuset_cpus"],
        oom_kill_disable=values["oom_kill_disable"],
        pid_mode=values["pid_mode"],
        ipc_mode=values["ipc_mode"],
        privileged=values["privileged"],
        security_opts=tuple(values["security_opt"]),
        devices=tuple(values["device"]),
    )


def sig_proxy_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--sig-proxy",
        type=click.BOOL,
        default=True,
        is_flag=False,
        flag_value=True,
        help="Proxy received signals to the process (default true)",
    )(f)


def detach_keys_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--detach-keys",
        default=DEFAULT_DETACH_KEYS,
        help="Override the key sequence for detaching a container",
    )(f)
