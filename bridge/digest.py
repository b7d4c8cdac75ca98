"""sha256 hex digests (veth and bridge names) without importing `hashlib` on the CNI path.

`hashlib` loads OpenSSL's libcrypto to offer every algorithm (about 5 ms per `pybridge`
start here); CPython 3.11 also ships sha256 alone as the small `_sha256` module, with the same
digests. Later versions renamed it, hence the fallback.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's, without importing typing: see bridge/README.md
if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256
    except ImportError:  # Python >= 3.12: _sha2
        from hashlib import sha256


def sha256_hex(data: bytes) -> str:
    return sha256(data).hexdigest()
