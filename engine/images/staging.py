"""Layers unpacked into private staging dirs, published by `Store.commit` or thrown away.

Used as a context manager by every importer: whatever is still in staging on exit (all of it
after a failure, empty shells after a commit) is removed, so bad input leaves nothing behind.
"""

import shutil
from pathlib import Path
from types import TracebackType
from typing import IO

from engine.images.errors import InvalidArchiveError
from engine.images.store import PendingLayer, Store
from engine.images.unpack import Whiteouts, unpack_layer


class Staging:
    """Staging dirs of one import or load."""

    def __init__(self, store: Store, whiteouts: Whiteouts | None = None) -> None:
        self.store = store
        self.whiteouts = whiteouts
        self.dirs: list[Path] = []
        self.layers: dict[str, PendingLayer] = {}
        self.files: list[IO[bytes]] = []

    def __enter__(self) -> "Staging":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for file in self.files:
            file.close()
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)

    def keep_open(self, file: IO[bytes]) -> IO[bytes]:
        """Close `file` when staging ends (before its directory goes)."""
        self.files.append(file)
        return file

    def new_dir(self) -> Path:
        path = self.store.staging_dir()
        self.dirs.append(path)
        return path

    def layer(
        self,
        raw: IO[bytes],
        what: str,
        diff_id: str | None = None,
        blob_digest: str | None = None,
    ) -> PendingLayer:
        """Unpack `raw` unless the store (or this import) already has `diff_id`; verify digests."""
        if diff_id is not None:
            if diff_id in self.layers:
                return self.layers[diff_id]
            if self.store.has_layer(diff_id):
                return PendingLayer(diff_id, None, self.store.layer_size(diff_id))
        dest = self.new_dir() / "diff"
        dest.mkdir()
        result = unpack_layer(raw, dest, what=what, whiteouts=self.whiteouts)
        if blob_digest is not None and result.blob_digest != blob_digest:
            raise InvalidArchiveError(
                f"invalid {what}: digest {result.blob_digest} does not match {blob_digest}"
            )
        if diff_id is not None and result.diff_id != diff_id:
            raise InvalidArchiveError(
                f"invalid {what}: content digest {result.diff_id} does not match the image "
                f"config's diff id {diff_id}"
            )
        layer = PendingLayer(result.diff_id, dest, result.size)
        self.layers[result.diff_id] = layer
        return layer
