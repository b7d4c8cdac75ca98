"""The proxy's exception tree.

ProxyError
├── FlagError      bad command line: exit 2, nothing on fd 3 (Go's flag package behaviour)
├── ConfigError    flags parsed but the mapping is impossible: `1\\n<msg>` on fd 3, exit 1
└── ListenError    the listening socket could not be opened or adopted: `1\\n<msg>`, exit 1
"""


class ProxyError(Exception):
    """Base of every error the proxy raises on purpose."""


class FlagError(ProxyError):
    """The command line does not parse; the message is Go's flag-package line."""


class ConfigError(ProxyError):
    """The flags parsed but describe something the proxy cannot do."""


class ListenError(ProxyError):
    """Binding, listening on or adopting a front-end socket failed."""
