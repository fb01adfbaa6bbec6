"""Run the `newswatch` command line with stubbed DNS, for the network-safety tests.

No test may use real DNS or reach the internet, yet the address guard has to be shown
refusing a public-looking name whose DNS answer is 127.0.0.1, and refusing a redirect
to 127.0.0.1 from a server it allowed. So, in the child process only:

- ``--resolve NAME=IP``: the system resolver (``socket.getaddrinfo``, which Twisted's
  resolver calls) answers NAME with IP. IP literals are resolved numerically; any other
  name fails as unknown, so nothing is ever looked up for real.
- ``--public NAME``: the addresses answered for NAME count as public. NAME stands in for
  a public server (it is really the test server on 127.0.0.1); every other host, IP
  literals and redirect targets included, is checked as usual.

Usage: ``python -m tests.stub_resolver [--resolve N=IP]... [--public N]... -- ARGS`` runs
``newswatch ARGS``.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from typing import Any


def _stub_getaddrinfo(names: dict[str, str]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.lower() in names:
            return real(names[name.lower()], port, *args, **kwargs)
        try:
            family, kind, proto, flags = [*args, 0, 0, 0, 0][:4]
            flags = kwargs.get("flags", flags) | socket.AI_NUMERICHOST
            return real(host, port, family, kind, proto, flags)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: unknown to the test stub") from None

    socket.getaddrinfo = getaddrinfo


def _treat_as_public(names: set[str]) -> None:
    import crawler.resolver

    checked = crawler.resolver.refusal

    def refusal(host: str, address: str) -> str | None:
        return None if host.lower() in names else checked(host, address)

    crawler.resolver.refusal = refusal  # type: ignore[assignment]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.stub_resolver")
    parser.add_argument("--resolve", action="append", default=[], metavar="NAME=IP")
    parser.add_argument("--public", action="append", default=[], metavar="NAME")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    # Before Twisted imports getaddrinfo by name.
    _stub_getaddrinfo(dict(pair.lower().split("=", 1) for pair in options.resolve))
    _treat_as_public({name.lower() for name in options.public})
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    sys.argv = ["newswatch", *args]
    from scheduler.cli import main as newswatch

    newswatch()


if __name__ == "__main__":
    main()
