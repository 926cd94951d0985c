"""Where webhooks may go: public http(s) addresses only, unless an operator allows a host (issue 15, item 10).

A `callback_url` is a request for the server to make a request — to anywhere the server can reach, which
on a laptop or in a cloud VPC includes its own loopback services, the LAN and the cloud's metadata
endpoint (169.254.169.254). So by default the server refuses hosts that resolve to any address that is
not globally routable (loopback, private, link-local — metadata endpoints live there —, shared, reserved,
multicast), URLs with credentials, and ports below 1024 other than 80 and 443 (port 22 is a shell, not
a webhook receiver). The check runs when the job is submitted (a 400 that says why) and again at each
delivery, which then connects to the very address it checked (pinned: the Host header and TLS name stay
the URL's), so a DNS answer that changes between check and connect (rebinding) cannot redirect the post.

`ServeSettings.webhook_allowed_hosts` lists host names, addresses or networks (CIDR) that skip these
checks, e.g. ["127.0.0.1", "localhost"] for a receiver on the developer's own machine.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SAFE_LOW_PORTS = (80, 443)


class CallbackRefused(ValueError):
    """A callback URL the policy refuses; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str  # the URL to request, with the host replaced by the checked address
    host_header: str
    sni_hostname: str | None  # https: the name the certificate must carry


def _address(text: str) -> Address | None:
    try:
        addr = ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (RFC 6052, and RFC 8215's local-use
# prefix) and the deprecated IPv4-compatible form (::a.b.c.d). A translator or an old stack delivers a post to
# [64:ff9b::7f00:1] to 127.0.0.1 (issue 29, defect 7), so such an address is as public as its IPv4 address.
EMBEDDING_V4 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))


def embedded_ipv4(addr: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through a translation or tunnel (NAT64, IPv4-compatible,
    6to4, Teredo's server and client)."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    out: list[ipaddress.IPv4Address] = []
    if any(addr in net for net in EMBEDDING_V4):
        out.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    if addr.sixtofour is not None:
        out.append(addr.sixtofour)
    if addr.teredo is not None:
        out.extend(addr.teredo)
    return out


def is_public(addr: Address) -> bool:
    if any(not is_public(v4) for v4 in embedded_ipv4(addr)):
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr in EMBEDDING_V4[2]:
        return False  # ::/96: the IPv4-compatible form itself is deprecated (RFC 4291), never a receiver
    return addr.is_global and not addr.is_multicast


class CallbackPolicy:
    def __init__(self, allowed_hosts: list[str] | tuple[str, ...] = (), resolver=None) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed_hosts:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.names.add(entry.lower().rstrip("."))
        self.resolve = resolver or _resolve

    def _allowed(self, host: str, addrs: list[Address]) -> bool:
        if host in self.names:
            return True
        return bool(addrs) and all(any(a in net for net in self.networks) for a in addrs)

    def check(self, url: str) -> Target:
        """The address to post `url` to, or CallbackRefused."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise CallbackRefused(f"`callback_url` is not a valid URL; got {url!r}.") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallbackRefused(f"`callback_url` must be an http(s) URL; got {url!r}.")
        if parts.username is not None or parts.password is not None:
            raise CallbackRefused(
                "`callback_url` must not carry a user name or password; webhooks are signed "
                "(Kinema-Signature), verify that instead."
            )
        host = parts.hostname.lower().rstrip(".")
        if port == 0:  # `port or default` read it as 80 (issue 29, defect 7); no server listens on 0
            raise CallbackRefused("`callback_url` uses port 0; give the receiver's real port (or none).")
        port = port if port is not None else (443 if parts.scheme == "https" else 80)
        literal = _address(host)
        try:
            addrs = [literal] if literal is not None else self.resolve(host, port)
        except (
            OSError,
            UnicodeError,
        ):  # UnicodeError: a name IDNA cannot encode (found by the fuzzer: a 500)
            raise CallbackRefused(
                f"The host of `callback_url` ({host}) does not resolve; use a public host name."
            ) from None
        if not addrs:
            raise CallbackRefused(f"The host of `callback_url` ({host}) has no address; use a public host.")
        if not self._allowed(host, addrs):
            private = [a for a in addrs if not is_public(a)]
            if private:
                raise CallbackRefused(
                    f"`callback_url` points to {host} ({private[0]}), a loopback, private, link-local or "
                    "reserved address; webhooks go to public addresses only (an operator can allow a host "
                    "with KINEMA_WEBHOOK_ALLOWED_HOSTS)."
                )
            if port < 1024 and port not in SAFE_LOW_PORTS:
                raise CallbackRefused(
                    f"`callback_url` uses port {port}; webhooks go to port 80, 443 or 1024 and above."
                )
        addr = addrs[0]
        shown = f"[{addr}]" if addr.version == 6 else str(addr)
        pinned = urlunsplit((parts.scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
        default_port = port == (443 if parts.scheme == "https" else 80)
        host_header = parts.hostname if default_port else f"{parts.hostname}:{port}"
        if ":" in parts.hostname and not parts.hostname.startswith("["):
            host_header = f"[{parts.hostname}]" + ("" if default_port else f":{port}")
        sni = parts.hostname if parts.scheme == "https" and literal is None else None
        return Target(pinned, host_header, sni)


def _resolve(host: str, port: int) -> list[Address]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[Address] = []
    for info in infos:
        addr = _address(str(info[4][0]))
        if addr is not None and addr not in out:
            out.append(addr)
    return out
