"""The default `busybox` image, built from the host's static busybox instead of pulled.

The tree is /bin/busybox, one symlink per applet where `busybox --list-full` puts it, /etc/passwd
and /etc/group with root and nobody, /etc/nsswitch.conf, and empty /dev /proc /sys /tmp /root
/home /var. The tar is
written byte-deterministically (sorted entries, mtime 0, root-owned) and the config has a fixed
creation time, so the same busybox binary always gives the same image id and concurrent first
uses publish the same image.
"""

import io
import json
import struct
import subprocess
import tarfile
from pathlib import Path

from engine.images.errors import ImageNotFoundError, InvalidReferenceError
from engine.images.model import host_architecture
from engine.images.reference import parse
from engine.images.staging import Staging
from engine.images.store import Store
from engine.images.unpack import Whiteouts

BUSYBOX = Path("/bin/busybox")
REFERENCE = "docker.io/library/busybox:latest"
EPOCH = "1970-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"
# Debian's busybox-static is glibc, whose default without this file is "hosts: dns
# [!UNAVAIL=return] files": the container's own hostname and its peers' names, all in its
# /etc/hosts, went to the host's resolver first, and an NXDOMAIN there hid /etc/hosts
# (`hostname -i`: Unknown host). Files first, as Docker's glibc images (Debian's) have it.
NSSWITCH = "hosts: files dns\n"
DIRS = {
    "bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
    "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755,
    "usr/sbin": 0o755, "var": 0o755,
}  # fmt: skip
_PT_INTERP = 3


def is_default(text: str) -> bool:
    """Whether `text` names the default image (`busybox`, `busybox:latest`, ...)."""
    try:
        return str(parse(text)) == REFERENCE
    except InvalidReferenceError:
        return False


def is_static(binary: Path) -> bool:
    """An ELF64 executable without a program interpreter, i.e. usable in an empty root."""
    with open(binary, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:5] != b"\x7fELF\x02":
            return False
        endian = "<" if head[5] == 1 else ">"
        (phoff,) = struct.unpack_from(endian + "Q", head, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    types = (struct.unpack_from(endian + "I", table, i * phentsize)[0] for i in range(phnum))
    return _PT_INTERP not in types


def applets(binary: Path) -> list[str]:
    """Where each applet lives (`bin/sh`, `usr/bin/awk`), as busybox itself lists them."""
    listing = subprocess.run(
        [str(binary), "--list-full"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return sorted({line.strip("/") for line in listing.split() if "/" in line} - {"bin/busybox"})


def rootfs_tar(binary: Path) -> bytes:
    """The layer tar, the same bytes for the same binary."""
    data = binary.read_bytes()
    links = applets(binary)
    dirs = dict(DIRS)
    for link in links:
        parent = link.rpartition("/")[0]
        while parent:
            dirs.setdefault(parent, 0o755)
            parent = parent.rpartition("/")[0]
    entries: list[tuple[str, tarfile.TarInfo, bytes]] = []

    def add(name: str, kind: bytes, mode: int, content: bytes = b"", target: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.size, info.linkname = kind, mode, len(content), target
        info.uname = info.gname = "root"
        entries.append((name, info, content))

    for name, mode in dirs.items():
        add(name, tarfile.DIRTYPE, mode)
    add("bin/busybox", tarfile.REGTYPE, 0o755, data)
    add("etc/passwd", tarfile.REGTYPE, 0o644, PASSWD.encode())
    add("etc/group", tarfile.REGTYPE, 0o644, GROUP.encode())
    add("etc/nsswitch.conf", tarfile.REGTYPE, 0o644, NSSWITCH.encode())
    for link in links:
        add(link, tarfile.SYMTYPE, 0o777, target="/bin/busybox")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for _, info, content in sorted(entries, key=lambda e: e[0]):
            tar.addfile(info, io.BytesIO(content) if content else None)
    return out.getvalue()


def ensure_busybox(
    root: Path, binary: Path = BUSYBOX, *, whiteouts: Whiteouts | None = None
) -> str:
    """The default image's id; built and tagged `busybox:latest` if the store lacks it."""
    store = Store(root)
    with store.locked(shared=True):
        current = store.refs().get(REFERENCE)
        if current is not None and store.has_image(current):
            return current
    if not binary.is_file() or not is_static(binary):
        raise ImageNotFoundError(
            "busybox:latest",
            f"the default image is built from a static {binary}; install busybox-static",
        )
    layer_tar = rootfs_tar(binary)
    with Staging(store, whiteouts) as staging:
        layer = staging.layer(io.BytesIO(layer_tar), f"busybox layer from {binary}")
        doc = {
            "architecture": host_architecture(),
            "config": {"Cmd": ["sh"], "Env": [PATH_ENV]},
            "created": EPOCH,
            "history": [{"created": EPOCH, "created_by": f"pyengine: {binary} and its applets"}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
        }
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        with store.locked():
            store.remove_stale_staging()
            image_id, _ = store.commit(blob, [layer], [REFERENCE])
    return image_id
