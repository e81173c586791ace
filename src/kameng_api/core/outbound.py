"""The one way kameng calls a URL it did not choose itself (SSRF guard).

Reseller callbacks, supplier base URLs and notification webhooks are typed in by people; a
call to one must not become a way into our own network. :func:`request` (and, at save time,
:func:`check_url`) guards against:

- **schemes and shapes** other than plain ``http``/``https`` with a host: ``file:``, ``ftp:``,
  ``gopher:``…, an empty host, credentials in the URL (``user:pass@``);
- **internal addresses**: every address the host resolves to must be public — not loopback,
  private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), shared
  CGNAT space (100.64/10), multicast, unspecified, reserved/broadcast, documentation,
  site-local, nor a cloud metadata address (169.254.169.254, fd00:ec2::254, 100.100.100.200).
  IPv4 inside IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64 ``64:ff9b::/96``,
  IPv4-compatible) is checked as the IPv4 it carries. One bad address refuses the URL;
- **numeric tricks**: hosts in the forms ``inet_aton`` accepts (``2130706433``,
  ``0177.0.0.1``, ``0x7f.0.0.1``, ``127.1``) are read as the address they mean — and refused
  even when that address is public: a legitimate URL writes an IPv4 address as a dotted quad;
- **DNS rebinding**: the host is resolved once, and the connection goes to a checked address
  (the URL's host is replaced by the address; ``Host`` and, for https, the TLS server name and
  certificate check keep the original name). Proxies from the environment are ignored;
- **redirects**: never followed. A 3xx comes back as it is; following ``Location`` means
  calling :func:`request` again, which checks the new URL;
- **slow or huge answers**: a total deadline (resolving, connecting, sending, reading), a
  connect timeout, and a cap on the body read (streamed; reading stops past the cap).

``KAMENG_OUTBOUND_ALLOW_LOOPBACK`` (development/test only, ignored in production) lets calls
reach 127.0.0.0/8 and ::1 (local simulators) — never private or metadata addresses.

Errors: :class:`OutboundRefused` (``url_not_allowed``, 422) when the policy refuses the URL —
an API storing a callback URL validates it with :func:`check_url` and answers that 422 — and
:class:`OutboundFailed` (``outbound_failed``, 502) when the call could not be made or
finished (DNS, connect, TLS, timeout); :class:`OutboundTooLarge` (a subclass,
``outbound_response_too_large``) when the answer is larger than the cap.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

import httpx

from kameng_api.core.errors import AppError
from kameng_api.settings import get_settings

log = logging.getLogger("kameng.outbound")

IPAddress = IPv4Address | IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}

_METADATA = frozenset(
    ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)

_BLOCKED = tuple(
    (ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "an unspecified (this-network) address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved or broadcast address"),
        ("::/128", "the unspecified address"),
        ("::/96", "an IPv4-compatible address"),
        ("64:ff9b:1::/48", "a local NAT64 address"),
        ("100::/64", "a discard address"),
        ("2001::/23", "an IETF special-purpose address"),
        ("2001:db8::/32", "a documentation address"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
_MAPPED = ip_network("::ffff:0:0/96")
_NAT64 = ip_network("64:ff9b::/96")
_COMPAT = ip_network("::/96")


class OutboundRefused(AppError):
    """The URL is not one kameng may call (scheme, credentials, host or its addresses)."""

    status = 422
    code = "url_not_allowed"
    title = "URL not allowed"


class OutboundFailed(AppError):
    """The outbound call could not be made or finished (DNS, connect, TLS, timeout)."""

    status = 502
    code = "outbound_failed"
    title = "Outbound call failed"


class OutboundNotSent(OutboundFailed):
    """Nothing reached the server: the host did not resolve, or no address accepted the
    connection. Safe to treat as "never sent" (an order was not placed)."""


class OutboundTooLarge(OutboundFailed):
    """The answer's body is larger than the cap."""

    code = "outbound_response_too_large"
    title = "Outbound answer too large"


@dataclass(frozen=True, slots=True)
class CheckedURL:
    """A URL that passed the policy, and the addresses a call to it may connect to."""

    url: httpx.URL
    host: str  # as sent in DNS, TLS and Host: lower-case, IDNA-encoded; IPv6 without brackets
    port: int
    addresses: tuple[IPAddress, ...]  # every one checked; connect in this order

    def pinned(self, address: IPAddress) -> httpx.URL:
        """The URL with its host replaced by ``address`` (what the connection uses)."""
        return self.url.copy_with(host=str(address))


@dataclass(frozen=True, slots=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


def refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``address`` may not be called (e.g. ``"a private address"``), or None if it may."""
    if isinstance(address, IPv6Address):
        if address.scope_id:
            return "an IPv6 address with a zone"
        inner = _embedded_ipv4(address)
        for v4 in inner:
            why = refusal(v4, allow_loopback=allow_loopback)
            if why:
                return f"{why} ({v4}) inside an IPv6 address"
        if inner and (address in _MAPPED or address in _NAT64):
            return None  # it means its IPv4 address, which passed
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    for net, why in _BLOCKED:
        if address.version == net.version and address in net:
            return why
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if isinstance(address, IPv6Address) and address.is_site_local:
        return "a site-local address"
    if address.is_private or not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, ...]:
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo  # (server, client)
    if address in _NAT64 or (address in _COMPAT and int(address) > 1):
        return (IPv4Address(int(address) & 0xFFFFFFFF),)
    return ()


def _literal(host: str) -> tuple[IPAddress | None, bool]:
    """The address a host names literally (None for a name), and whether it is written in a
    legacy IPv4 form (decimal, octal, hex, short) that ``inet_aton`` reads."""
    try:
        return ip_address(host), False
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host)), True
    except OSError:
        return None, False


def _allow_loopback(asked: bool | None) -> bool:
    settings = get_settings()
    if settings.environment == "production":
        return False
    return settings.outbound_allow_loopback if asked is None else asked


def _parse(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        # httpx refuses e.g. 0177.0.0.1 outright; say what such a host means
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        address, _ = _literal(host) if host else (None, False)
        if address is not None:
            raise OutboundRefused(
                f"{host} is the address {address}, written in a form that is not allowed"
            ) from exc
        raise OutboundRefused("not a valid URL") from exc


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses, in the resolver's order (tests replace this)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [
        ip_address(str(info[4][0]))
        for info in infos
        if info[0] in (socket.AF_INET, socket.AF_INET6)
    ]


async def check_url(url: str, *, allow_loopback: bool | None = None) -> CheckedURL:
    """Check ``url`` against the policy and resolve its host once.

    Raises :class:`OutboundRefused` when the URL may not be called (also when the host does
    not exist) and :class:`OutboundFailed` when DNS cannot answer. ``allow_loopback``
    defaults to ``KAMENG_OUTBOUND_ALLOW_LOOPBACK``; both are ignored in production.
    """
    parsed = _parse(url)
    if parsed.scheme not in _DEFAULT_PORTS:
        raise OutboundRefused("only http and https URLs may be called")
    if parsed.userinfo:
        raise OutboundRefused("a URL with credentials (user:password@) is not allowed")
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise OutboundRefused("the URL has no host")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    loopback = _allow_loopback(allow_loopback)

    address, legacy = _literal(host)
    if address is not None:
        why = refusal(address, allow_loopback=loopback)
        if why:
            raise OutboundRefused(f"{host} is {why}" + (f" ({address})" if legacy else ""))
        if legacy:
            raise OutboundRefused(f"write the IPv4 address {address} as a dotted quad")
        return CheckedURL(parsed, host, port, (address,))
    if not _NAME.fullmatch(host):
        raise OutboundRefused("the URL's host is not a valid name")

    try:
        found = await _resolve(host, port)
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            raise OutboundRefused(f"the host {host} does not exist") from exc
        raise OutboundNotSent(f"could not resolve {host}: {exc.strerror or exc}") from exc
    addresses = tuple(dict.fromkeys(found))
    if not addresses:
        raise OutboundNotSent(f"{host} resolved to no address")
    for a in addresses:
        why = refusal(a, allow_loopback=loopback)
        if why:
            # the detail goes back to whoever typed the URL: name no internal address
            log.info("outbound refused: %s resolves to %s, %s", host, a, why)
            raise OutboundRefused(f"{host} resolves to an address that is not allowed")
    return CheckedURL(parsed, host, port, addresses)


@lru_cache
def _ssl_context() -> ssl.SSLContext:
    # the usual verified context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR); hostname checked
    return httpx.create_ssl_context()


def _transport() -> httpx.AsyncBaseTransport:
    return httpx.AsyncHTTPTransport(verify=_ssl_context(), trust_env=False, retries=0)


async def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | str | None = None,
    json: Any = None,
    timeout_s: float | None = None,
    max_bytes: int | None = None,
) -> OutboundResponse:
    """Call ``url`` after :func:`check_url`, connecting only to the checked addresses.

    Redirects are not followed: a 3xx is returned as it is. ``timeout_s`` is the total
    deadline (default ``KAMENG_OUTBOUND_TIMEOUT_S``); the connect timeout is
    ``KAMENG_OUTBOUND_CONNECT_TIMEOUT_S`` at most; ``max_bytes`` caps the body read (default
    ``KAMENG_OUTBOUND_MAX_RESPONSE_BYTES``). Raises :class:`OutboundRefused`,
    :class:`OutboundFailed` or :class:`OutboundTooLarge`.
    """
    settings = get_settings()
    total = timeout_s if timeout_s is not None else settings.outbound_timeout_s
    cap = max_bytes if max_bytes is not None else settings.outbound_max_response_bytes
    timeout = httpx.Timeout(total, connect=min(total, settings.outbound_connect_timeout_s))
    try:
        async with asyncio.timeout(total):
            checked = await check_url(url)
            send_headers = httpx.Headers(headers)
            send_headers["Host"] = checked.url.netloc.decode("ascii")
            send_headers.setdefault("Accept-Encoding", "identity")  # the cap counts real bytes
            extensions: dict[str, Any] = {}
            if checked.url.scheme == "https" and _literal(checked.host)[0] is None:
                extensions["sni_hostname"] = checked.host  # TLS name and certificate check
            async with httpx.AsyncClient(
                transport=_transport(), timeout=timeout, follow_redirects=False, trust_env=False
            ) as client:
                last: httpx.TransportError | None = None
                for address in checked.addresses:
                    pinned = client.build_request(
                        method,
                        checked.pinned(address),
                        headers=send_headers,
                        content=content,
                        json=json,
                        extensions=extensions,
                    )
                    try:
                        answer = await client.send(pinned, stream=True)
                    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                        last = exc  # nothing was sent: the next address may answer
                        continue
                    try:
                        body = await _read_capped(answer, cap)
                    finally:
                        await answer.aclose()
                    return OutboundResponse(answer.status_code, answer.headers, body)
                raise OutboundNotSent(f"could not connect to {checked.host}: {last}") from last
    except TimeoutError as exc:
        raise OutboundFailed(f"no complete answer within {total:g} s") from exc
    except httpx.HTTPError as exc:
        raise OutboundFailed(f"{type(exc).__name__}: {exc}") from exc


async def _read_capped(answer: httpx.Response, cap: int) -> bytes:
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise OutboundTooLarge(f"the answer is {declared} bytes; at most {cap} are read")
    body = bytearray()
    async for chunk in answer.aiter_bytes():
        body += chunk
        if len(body) > cap:
            raise OutboundTooLarge(f"the answer is larger than {cap} bytes")
    return bytes(body)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends every request through :func:`request` (the guard), for
    clients that must not call past it — e.g. ``resellers.client.OpenApiClient`` used by the
    ``kameng`` supplier adapter. A refused URL or a request that never reached the server is
    an ``httpx.ConnectError`` (nothing was sent); a request sent without a complete answer is
    an ``httpx.ReadError`` (it may have been acted on: ask before sending it again)."""

    _DROP = frozenset({"host", "content-length", "transfer-encoding", "connection"})

    def __init__(self, *, timeout_s: float | None = None, max_bytes: int | None = None) -> None:
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    async def handle_async_request(self, req: httpx.Request) -> httpx.Response:
        content = await req.aread()
        headers = {k: v for k, v in req.headers.items() if k.lower() not in self._DROP}
        try:
            answer = await request(
                req.method,
                str(req.url),
                headers=headers,
                content=content or None,
                timeout_s=self.timeout_s,
                max_bytes=self.max_bytes,
            )
        except (OutboundRefused, OutboundNotSent) as exc:
            raise httpx.ConnectError(str(exc), request=req) from exc
        except OutboundFailed as exc:
            raise httpx.ReadError(str(exc), request=req) from exc
        return httpx.Response(
            answer.status_code, headers=answer.headers, content=answer.content, request=req
        )
