"""Creating, starting and tearing down containers over the three seams (images, networks, tasks).

Every change to a container happens under its lock and ends with its record written whole, so
a command killed at any point leaves either the old state or the new one; what it had set up is
listed in the record (`resources["setup"]`) and undone by the next command that sees it.
"""

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.containers import events, netmode
from engine.containers.errors import ConflictError, NoSuchContainerError
from engine.containers.flags import RunFlags
from engine.containers.names import new_id, random_name
from engine.containers.record import LIVE, ContainerRecord
from engine.containers.request import build_request
from engine.containers.store import ContainerStore
from engine.errors import EngineError
from engine.lifecycle import (
    bundle,
    extras,
    hosts,
    links,
    mountpoints,
    namespaces,
    resolver,
    volumes,
)
from engine.lifecycle.backends import Images, Networks, Tasks, TaskSpec, TaskStatus
from engine.lifecycle.locks import container_lock
from engine.lifecycle.parallel import Background
from engine.ports import allocate, proxyproc
from engine.runtime.errors import container_exit_code
from engine.volumes.store import VolumeStore

# Docker waits this long after a stop signal that could not be sent, then kills.
SIGNAL_FAILED_WAIT = 2.0


class LifecycleBase:
    """Records, locks, start and teardown: what every lifecycle operation builds on."""

    def __init__(
        self,
        root: Path,
        images: Images,
        networks: Networks,
        tasks: Tasks,
        *,
        proxy_path: str,
        exit_command: Callable[[str], tuple[str, ...]] = lambda _id: (),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        dns_upstreams: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.store = ContainerStore(root)
        self.volumes = VolumeStore(root)
        self.images = images
        self.networks = networks
        self.tasks = tasks
        self.proxy_path = proxy_path
        self.exit_command = exit_command
        self.clock = clock
        self.sleep = sleep
        # The resolvers a user network's DNS server forwards to ("" : the host's resolv.conf).
        self.dns_upstreams = dns_upstreams

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"

    # paths -----------------------------------------------------------------------------------

    def proxy_state(self, record: ContainerRecord) -> dict[str, object] | None:
        """The state of a running container's port proxy as its shim watches it, or None."""
        if not record.state.ports or record.state.status not in LIVE:
            return None
        return self.tasks.proxy_state(record.id)

    def health_state(self, record: ContainerRecord) -> dict[str, object] | None:
        """Docker's State.Health for a container with a health check, as its shim wrote it."""
        if not record.config.healthcheck.enabled:
            return None
        return self.tasks.health_state(record.id) or {
            "Status": "starting", "FailingStreak": 0, "Log": []
        }  # fmt: skip

    def log_path(self, container_id: str) -> Path:
        """Docker's json-file path: `containers/<id>/<id>-json.log`."""
        return self.store.container_dir(container_id) / f"{container_id}-json.log"

    def bundle_dir(self, container_id: str) -> Path:
        """The OCI bundle (config.json, hosts, resolv.conf)."""
        return self.store.container_dir(container_id) / "bundle"

    @contextlib.contextmanager
    def locked(self, ref: str) -> Iterator[ContainerRecord]:
        """Find a container, hold its lock, and yield its record brought up to date."""
        record = self.store.find(ref)
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(container_lock(self.store.container_dir(record.id)))
                current = self.store.reload(record)
            except (FileNotFoundError, NoSuchContainerError):
                raise NoSuchContainerError(ref) from None  # removed since we found it
            yield self.refresh_locked(current)

    def sync_names(self, network: str, leaving: str = "") -> None:
        """What a user network's containers know of each other, after one came, went or was
        renamed: their hosts files, and the records of the network's DNS server, and of the
        other networks of its members (their servers answer for all their networks)."""
        if not hosts.on_user_network(network):
            return  # the default bridge, host, none: no names to keep (and no records to read)
        hosts.sync(self.store, network, self.bundle_dir, leaving=leaving)
        for each in resolver.related(self.store, network, leaving):
            resolver.sync(self.store, each, leaving=leaving, upstreams=self.dns_upstreams)

    def _event(self, action: str, record: ContainerRecord, exit_code: int | None = None) -> None:
        events.append(
            self.root,
            events.Event(action, record.id, record.name, record.config.image, exit_code=exit_code),
        )

    # create and start -------------------------------------------------------------------------

    def create(self, flags: RunFlags) -> ContainerRecord:
        """A container in state `created`: a record and nothing else yet (as Docker)."""
        image = self.images.resolve(flags.image)
        request = build_request(flags, image.defaults, image_id=image.id)
        network = request.host.network
        for each in (network, *(j.name for j in request.host.extra_networks)):
            if netmode.has_endpoint(each) and not self.networks.exists(each):
                raise EngineError(f"network {each} not found")
        if joined := netmode.joined_container(network):
            # By id, so that renaming the other changes nothing; with its host name, as Docker.
            other = self.store.find(joined)
            request = dataclasses.replace(
                request,
                config=dataclasses.replace(request.config, hostname=bundle.hostname_of(other)),
                host=dataclasses.replace(request.host, network=netmode.CONTAINER_PREFIX + other.id),
            )
        with self.store.locked(), contextlib.ExitStack() as undo:
            taken = {r.name for r in self.store.all()}
            name = request.name
            while not name or (not request.name and name in taken):
                name = random_name()
            record = ContainerRecord(
                id=new_id(),
                name=name,
                created=self.clock(),
                config=request.config,
                host=dataclasses.replace(
                    volumes.name_volumes(request.host, self.store, self.volumes, undo),
                    links=links.resolve(request.host.links, self.store),
                ),
            )
            self.store.add(record)
            undo.pop_all()
        self._event("create", record)
        return record

    def start(self, ref: str, console_size: tuple[int, int] | None = None) -> ContainerRecord:
        """Start a created or exited container; a running one is left as it is.

        `console_size` (rows, cols) sizes a tty before the process runs, so its first
        `stty size` already sees the caller's terminal.
        """
        with self.locked(ref) as record:
            if record.state.status == "running":
                return record
            if record.state.status == "paused":
                raise ConflictError("cannot start a paused container, try unpause first")
            if record.state.status in ("removing", "dead"):
                raise ConflictError(
                    f"container {record.id} is marked for removal and cannot be started"
                )
            # A manual start resets the restart manager and RestartCount (moby daemon/start.go).
            resources = {k: v for k, v in record.resources.items() if k != "restart_delay"}
            record = dataclasses.replace(record, resources=resources).with_state(restart_count=0)
            return self._start_locked(record, console_size)

    def _start_locked(
        self, record: ContainerRecord, console_size: tuple[int, int] | None = None
    ) -> ContainerRecord:
        cid, host = record.id, record.host
        # Written first: if this process dies midway the next command sees "setup" and undoes it.
        record = dataclasses.replace(record, resources={**record.resources, "setup": "1"})
        self.store.write(record, durable=False)
        with contextlib.ExitStack() as undo:
            undo.callback(self._teardown, record)
            netns_path: str | None = None
            ip = gateway = ""
            etc_from: ContainerRecord | None = None  # container:NAME shares its files
            spec = TaskSpec(
                bundle=self.bundle_dir(cid),
                log_path=self.log_path(cid),
                runtime=host.runtime,
                tty=record.config.tty,
                stdin=record.config.open_stdin,
                exit_command=self.exit_command(cid),
                console_size=console_size if record.config.tty else None,
                log_max_size=host.log_max_size,
                log_max_file=host.log_max_file,
                start=True,
            )
            # The root and the shim (an overlay mount, a fork of the zygote) on one side, the
            # network (namespace, veth, lease) on the other: they do not depend on each other.
            with Background(self._prepare_root_and_shim, record, spec) as root:
                if joined := netmode.joined_container(host.network):
                    netns_path, etc_from = namespaces.joined(self.store, joined)
                elif netmode.has_endpoint(host.network):
                    attachment = self.networks.connect(
                        host.network, cid, record.name, ip=host.ip, mac=host.mac_address
                    )
                    netns_path, ip = attachment.netns_path, attachment.ip
                    gateway = attachment.gateway
                rootfs = root.result()
            # Its further networks: more endpoints in the namespace its first one made.
            extra = extras.attach_all(self.networks, record) if ip else ()
            ipv6 = proxyproc.host_ipv6()
            ports = allocate.HostPorts()
            if host.ports and ip:
                taken = {
                    (b.host_ip, b.host_port, b.proto)
                    for other in self.store.all()
                    if other.id != cid and other.state.status in LIVE
                    for b in other.state.ports
                }
                # Bound here and handed to the proxy: nothing can take a port in between.
                ports = allocate.allocate(host.ports, taken, ipv6=ipv6)
            with ports:  # our copies of the listeners; the proxy holds its own
                bindings = ports.bindings
                if bindings:
                    self.networks.publish(host.network, cid, ip, bindings)
                peers = hosts.peers_for(self.store, host.network, cid) if ip else []
                linked: list[tuple[str, str]] = []
                link_env: list[str] = []
                if host.network == "bridge" and host.links:
                    linked, link_env = links.legacy(record, self.store)
                if etc_from is None:
                    bundle.write_etc(
                        self.bundle_dir(cid), record, ip, peers, gateway=gateway, linked=linked
                    )
                else:
                    bundle.share_etc(self.bundle_dir(etc_from.id), self.bundle_dir(cid))
                mounts = mountpoints.prepare(record.host.mounts, rootfs, self.volumes)
                bundle.write(
                    record,
                    self.bundle_dir(cid),
                    rootfs,
                    netns_path,
                    user_mounts=mounts,
                    link_env=link_env,
                    namespaces=namespaces.shared(self.store, record),
                )
                resources = dict(record.resources)
                proxy: tuple[proxyproc.ProxyHandle, proxyproc.ProxyLaunch] | None = None
                if bindings:
                    # Before the task, as Docker maps ports before it starts the container:
                    # the proxy listens at once and relays as soon as the container does.
                    launch = proxyproc.ProxyLaunch(
                        self.proxy_path,
                        tuple(bindings),
                        ip,
                        str(self.store.container_dir(cid) / "proxy.log"),
                        owner=cid,
                        hub_group=f"pyengine:{self.root}",
                    )
                    proxy = proxyproc.launch(launch, ports.sockets), launch
                    resources["proxy"] = proxy[0].text()
            # Everything the start needs recorded once the task runs, written before the task
            # is: a start killed after the task began is finished by the next command from this
            # (refresh_locked), never rolled back under a running container.
            record = dataclasses.replace(record, resources=resources).with_state(
                # As Docker lists them: a wildcard port on both families when the host has IPv6.
                ports=tuple(proxyproc.with_ipv6_wildcards(bindings) if ipv6 else bindings),
                ip_address=ip,
                gateway=gateway,
                extra_addresses=extra,
            )
            self.store.write(record, durable=False)
            try:
                pid = self.tasks.create(cid, spec)
            except EngineError as exc:
                # Docker keeps the container `created` with the code and message of the failure.
                code = container_exit_code(exc) or 128
                # Nothing runs: no ports, no address (the undo releases them).
                failed = record.with_state(
                    exit_code=code,
                    error=str(exc),
                    ports=(),
                    ip_address="",
                    gateway="",
                    extra_addresses=(),
                )
                self.store.write(failed)
                raise
            if proxy is not None:
                # The shim outlives this command: it restarts the proxy if it dies.
                self.tasks.watch_proxy(cid, *proxy)
            if record.config.healthcheck.enabled:
                # So do its health checks: the shim runs them while the task runs. A shim that
                # cannot take them (one older than this engine) must not cost the container
                # its start: it runs unchecked, and inspect says `starting`.
                with contextlib.suppress(EngineError):
                    self.tasks.watch_health(
                        cid, record.config.healthcheck, record.config.user, record.config.workdir
                    )
            record = self._mark_running(record, pid)
            undo.pop_all()
        return self._announce_start(record)

    def _mark_running(self, record: ContainerRecord, pid: int) -> ContainerRecord:
        """Record a task that runs: the end of a start (the record carries ports and IP)."""
        resources = {k: v for k, v in record.resources.items() if k != "setup"}
        record = dataclasses.replace(record, resources=resources).with_state(
            status="running",
            pid=pid,
            started_at=self.clock(),
            exit_code=0,
            error="",
            oom_killed=False,
            stopped_by_user=False,
        )
        self.store.write(record, durable=False)  # after a reboot it is not running anyway
        return record

    def _announce_start(self, record: ContainerRecord) -> ContainerRecord:
        # Now that the record says running: the others list it, it lists whoever came since.
        for network in netmode.networks_of(record):
            self.sync_names(network)
        self._event("start", record)
        return record

    def _teardown(self, record: ContainerRecord, remove: bool = False) -> None:
        """Undo everything a start set up; each step tolerates absence (DEL is retried).

        The root's changes are kept (as Docker keeps a stopped container's layer) unless the
        container is being removed. Resources on disk count too: the caller's copy may predate
        them (the undo of a start holds the record it began with).
        """
        if self.store.container_dir(record.id).exists():
            with contextlib.suppress(NoSuchContainerError):
                saved = self.store.reload(record).resources
                record = dataclasses.replace(record, resources={**saved, **record.resources})
        proxy = record.resources.get("proxy")
        if proxy:
            # First the shim stops restarting it; then the one recorded goes, and any the shim
            # started since (a new pid: found by their owner, as a proxy spawned by a start
            # cut short before it recorded it).
            self.tasks.release_proxy(record.id)
            proxyproc.stop(proxyproc.ProxyHandle.parse(proxy))
        if proxy or "setup" in record.resources:
            for handle in proxyproc.find(record.id):
                proxyproc.stop(handle)
        # The task and its root on one side, the network on the other: each mostly waits on the
        # kernel (`runc delete`, the veth's removal, about 10 ms each), so they overlap.
        with Background(self._delete_task_and_root, record.id, remove):
            # Its name goes from the others' hosts files before its address is given out again.
            for network in netmode.networks_of(record):
                self.sync_names(network, leaving=record.id)
            if netmode.has_endpoint(record.host.network):
                extras.detach_all(self.networks, record)
                self.networks.disconnect(record.host.network, record.id)
        resources = {k: v for k, v in record.resources.items() if k not in ("proxy", "setup")}
        current = (
            self.store.reload(record) if self.store.container_dir(record.id).exists() else None
        )
        if current is not None:
            self.store.write(dataclasses.replace(current, resources=resources), durable=False)

    def _prepare_root_and_shim(self, record: ContainerRecord, spec: TaskSpec) -> Path:
        """The container's root, then its shim, started early. A shim checks its bundle's
        config.json when it starts; a first start has none yet, so a provisional one (without
        the network, rewritten before the task is created) comes first."""
        root = self.images.prepare_rootfs(record.id, record.config.image_id)
        if not (spec.bundle / "config.json").exists():
            spec.bundle.mkdir(parents=True, exist_ok=True)
            bundle.write(record, spec.bundle, root, None)
        self.tasks.prepare(record.id, spec)
        return root

    def _delete_task_and_root(self, cid: str, remove: bool) -> None:
        self.tasks.delete(cid)
        if remove:
            self.images.release_rootfs(cid)
        else:
            self.images.unmount_rootfs(cid)

    # exits --------------------------------------------------------------------------------------

    def _finish_locked(self, record: ContainerRecord, status: TaskStatus) -> ContainerRecord:
        """The task has ended: record how, then release what it held."""
        code = 255 if status.exit_code is None else status.exit_code
        record = record.with_state(
            status="exited",
            pid=0,
            exit_code=code,
            finished_at=status.exited_at or self.clock(),
            oom_killed=status.oom_killed,
            ports=(),
        )
        self.store.write(record, durable=not record.host.auto_remove)  # --rm: gone next
        self._teardown(record)
        if status.oom_killed:
            self._event("oom", record)
        self._event("die", record, exit_code=code)
        return self.store.reload(record)

    def refresh_locked(self, record: ContainerRecord) -> ContainerRecord:
        """Bring a record in line with reality (a dead shim, an exit while no engine ran)."""
        if "setup" in record.resources:
            # A start died midway (we hold the lock, so its process is gone). If its task runs,
            # only the record was missing: finish the start. Otherwise undo it.
            task = self.tasks.status(record.id)
            # (A stopped task without a pid is a shim that died before any task: nothing ran.)
            if task.status in ("running", "paused") or (task.status == "stopped" and task.pid):
                record = self._announce_start(self._mark_running(record, task.pid))
                if task.status == "stopped":  # it even ended since: its exit is next
                    return self._finish_locked(record, task)
                if task.status == "paused":
                    record = record.with_state(status="paused")
                    self.store.write(record, durable=False)
                return record
            self._teardown(record)
            rolled_back = self.store.reload(record).with_state(
                status=record.state.status, ports=(), ip_address="", gateway="", extra_addresses=()
            )
            self.store.write(rolled_back, durable=False)
            return rolled_back
        if record.state.status not in LIVE:
            return record
        status = self.tasks.status(record.id)
        if status.status in ("stopped", "unknown"):
            return self._finish_locked(record, status)
        if status.status != record.state.status and status.status in LIVE:
            record = record.with_state(status=status.status)
            self.store.write(record)
        return record
