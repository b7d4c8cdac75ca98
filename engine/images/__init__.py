"""Images without a registry, and each container's copy-on-write root.

What the engine calls (every function takes the engine root, `$PYENGINE_ROOT` in the CLI):

    api.resolve(root, "busybox") -> Image          id, layers, ImageConfig (env, cmd, entrypoint,
                                                   working_dir, user, exposed_ports, stop_signal);
                                                   builds the default busybox on first use
    rootfs.prepare(root, container_id, image) -> Path    overlayfs mount for config.json root.path
    rootfs.unmount(root, container_id)             keep the container's changes (stopped)
    rootfs.release(root, container_id)             unmount and delete (`rm`); absent is fine
    rootfs.list_rootfs(root) / rootfs.collect(root, keep)   find and release leftover roots
    users.mark_used / users.unmark_used            a use before (or without) a rootfs
    api.remove(root, ref, force=..., users=ImageUsers)      `rmi`, told who runs what

Modules, one job each: reference (names), model (records), store (disk layout, lock), streams
and unpack (layer tars), staging, importer (`import`), loader (`load`), busybox, mounts, rootfs,
users, api, display (`docker images` text). Errors: errors.py.
"""
