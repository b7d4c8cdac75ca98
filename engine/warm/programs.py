"""The programs the warm process can become, run in this process: the fallback of a client no
server takes, and what a worker runs."""

# Modules every command may need, imported by the warm process before its first fork so that
# workers share them. Not pyroute2: only making a bridge needs it, once per network, and its
# 240 modules would make every fork a millisecond slower.
PRELOAD = (
    "engine.cli.app",
    "engine.cli.containers",
    "engine.cli.queries",
    "engine.cli.attach",
    "engine.cli.context",
    "engine.cli.images",
    "engine.cli.network",
    "engine.cli.system",
    "engine.lifecycle.adapters",
    "bridge.cni",
    "bridge.cni.commands",
    "bridge.config",
    "nftables",
)


def run_program(program: str, argv: list[str]) -> int:
    """Run `program` (see protocol.PROGRAMS) with `argv` in this process; its exit code."""
    if program == "pybridge":
        from bridge.cni import main as cni_main  # noqa: PLC0415 - loaded on use only

        return cni_main()
    from engine.cli.app import main  # noqa: PLC0415 - loaded on use only

    return main(argv)
