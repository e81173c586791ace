"""core/outbound.py: the SSRF guard. Each bypass form is refused; the connection goes to the
address that was checked (no second lookup), with the original Host and TLS name; redirects
are returned, not followed; answers are capped and calls have a deadline."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from kameng_api.core import outbound
from kameng_api.core.errors import AppError
from kameng_api.core.outbound import (
    OutboundFailed,
    OutboundRefused,
    OutboundTooLarge,
    check_url,
    refusal,
    request,
)
from kameng_api.settings import Settings
from tests.support.procs import free_port, serve_app, settings_env

Resolver = Callable[[str, int], Awaitable[list[IPv4Address | IPv6Address]]]


def fixed(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        return [ip_address(a) for a in addresses]

    return resolve


async def no_lookup(host: str, port: int) -> list[IPv4Address | IPv6Address]:
    raise AssertionError(f"{host} is a literal address: it must not be looked up")


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[Resolver], None]:
    def use(fn: Resolver) -> None:
        monkeypatch.setattr(outbound, "_resolve", fn)

    return use


@pytest.fixture
def allow_loopback() -> Iterator[None]:
    with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true"):
        yield


async def refused(url: str, *, allow_loopback: bool = False) -> OutboundRefused:
    with pytest.raises(OutboundRefused) as caught:
        await check_url(url, allow_loopback=allow_loopback)
    err = caught.value
    assert isinstance(err, AppError)
    assert (err.code, err.status) == ("url_not_allowed", 422)
    return err


# --- the policy --------------------------------------------------------------------------

BYPASSES = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8000/cb",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://127.1/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00::1]/",
    "http://[fec0::1]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://[::127.0.0.1]/",  # IPv4-compatible
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "https://[::ffff:10.0.0.1]:8443/",
]


@pytest.mark.parametrize("url", BYPASSES)
async def test_internal_literal_addresses_are_refused(
    url: str, resolver: Callable[[Resolver], None]
) -> None:
    resolver(no_lookup)
    await refused(url)


@pytest.mark.parametrize(
    ("url", "means"),
    [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0x7f.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://0xa9.254.43518/", "169.254.169.254"),
    ],
)
async def test_legacy_ipv4_forms_are_read_as_the_address_they_mean(
    url: str, means: str, resolver: Callable[[Resolver], None]
) -> None:
    resolver(no_lookup)
    err = await refused(url)
    assert means in str(err.detail)
    # …and refused even with loopback allowed, or when the address is public
    await refused(url, allow_loopback=True)
    await refused("http://134744072/")  # 8.8.8.8


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "gopher://example.com/",
        "ws://example.com/",
        "javascript:alert(1)",
        "//example.com/",
        "example.com",
        "http:///path",
        "http://",
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "http://:secret@example.com/",
        "http://exa mple.com/",
        "",
    ],
)
async def test_other_schemes_credentials_and_empty_hosts_are_refused(
    url: str, resolver: Callable[[Resolver], None]
) -> None:
    resolver(fixed("93.184.215.14"))
    await refused(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://192.168.1.1/",
    ],
)
async def test_allow_loopback_allows_nothing_else(
    url: str, resolver: Callable[[Resolver], None]
) -> None:
    resolver(no_lookup)
    await refused(url, allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/", "http://127.5.6.7/", "http://[::1]/", "http://[::ffff:127.0.0.1]/"],
)
async def test_allow_loopback_allows_loopback(url: str) -> None:
    checked = await check_url(url, allow_loopback=True)
    assert checked.addresses[0].is_loopback or checked.addresses[0] == ip_address(
        "::ffff:127.0.0.1"
    )


async def test_localhost_is_refused_by_what_it_resolves_to() -> None:
    err = await refused("http://localhost/")
    assert "resolves to an address that is not allowed" in str(err.detail)
    await refused("http://LOCALHOST:8000/")


async def test_a_name_resolving_to_a_private_address_is_refused(
    resolver: Callable[[Resolver], None],
) -> None:
    resolver(fixed("10.0.0.5"))
    err = await refused("https://shop.example/cb")
    assert "10.0.0.5" not in str(err.detail)  # whoever typed the URL learns no internal address
    resolver(fixed("::ffff:192.168.0.9"))
    await refused("https://shop.example/cb")
    resolver(fixed("fd12:3456::1"))
    await refused("https://shop.example/cb")


async def test_one_private_address_among_public_ones_refuses_the_url(
    resolver: Callable[[Resolver], None],
) -> None:
    resolver(fixed("93.184.215.14", "10.0.0.5"))
    await refused("https://shop.example/cb")
    resolver(fixed("2606:4700::1111", "93.184.215.14", "169.254.169.254"))
    await refused("https://shop.example/cb")


async def test_a_public_name_passes_with_every_address_checked(
    resolver: Callable[[Resolver], None],
) -> None:
    resolver(fixed("93.184.215.14", "93.184.215.14", "2606:4700::1111"))
    checked = await check_url("https://Shop.Example:8443/cb?x=1")
    assert checked.host == "shop.example"
    assert checked.port == 8443
    assert checked.addresses == (ip_address("93.184.215.14"), ip_address("2606:4700::1111"))
    assert str(checked.pinned(checked.addresses[1])) == "https://[2606:4700::1111]:8443/cb?x=1"
    resolver(no_lookup)
    literal = await check_url("http://93.184.215.14/")
    assert literal.addresses == (ip_address("93.184.215.14"),)


async def test_unknown_hosts_are_refused_and_dns_trouble_is_a_failure(
    resolver: Callable[[Resolver], None],
) -> None:
    async def nxdomain(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def servfail(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    resolver(nxdomain)
    await refused("https://no-such-shop.example/")
    resolver(servfail)
    with pytest.raises(OutboundFailed) as caught:
        await check_url("https://shop.example/")
    assert (caught.value.code, caught.value.status) == ("outbound_failed", 502)


def test_refusal_names_the_class_of_each_address() -> None:
    assert refusal(ip_address("93.184.215.14")) is None
    assert refusal(ip_address("2606:4700::1111")) is None
    assert refusal(ip_address("64:ff9b::808:808")) is None  # NAT64 of 8.8.8.8 is public
    assert refusal(ip_address("::ffff:8.8.8.8")) is None
    assert refusal(ip_address("127.0.0.1")) == "a loopback address"
    assert refusal(ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ip_address("169.254.169.254"), allow_loopback=True) == (
        "a cloud metadata address"
    )
    assert refusal(ip_address("fd00:ec2::254")) == "a cloud metadata address"
    assert refusal(ip_address("100.100.100.200")) == "a cloud metadata address"
    assert refusal(ip_address("100.64.0.1")) == "a shared (CGNAT) address"
    assert "loopback" in str(refusal(ip_address("::ffff:7f00:1")))
    assert "loopback" in str(refusal(ip_address("64:ff9b::127.0.0.1")))


async def test_production_ignores_allow_loopback(
    monkeypatch: pytest.MonkeyPatch, resolver: Callable[[Resolver], None]
) -> None:
    production = Settings(
        environment="production",
        secret_key="x" * 40,
        field_keys={"k1": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="},
        dedupe_key="ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
        outbound_allow_loopback=True,
    )
    monkeypatch.setattr(outbound, "get_settings", lambda: production)
    resolver(no_lookup)
    await refused("http://127.0.0.1/")
    with pytest.raises(OutboundRefused):
        await check_url("http://127.0.0.1/", allow_loopback=True)


# --- pinning, seen at the transport -----------------------------------------------------


@dataclass
class Recorder:
    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.AsyncBaseTransport:
        def handle(req: httpx.Request) -> httpx.Response:
            self.requests.append(req)
            return httpx.Response(200, json={"ok": True})

        return httpx.MockTransport(handle)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(outbound, "_transport", rec.transport)
    return rec


async def test_the_request_goes_to_the_checked_address_with_the_original_name(
    recorder: Recorder, resolver: Callable[[Resolver], None]
) -> None:
    resolver(fixed("93.184.215.14"))
    answer = await request("POST", "https://shop.example:8443/cb?a=1", json={"n": 1})
    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
    (sent,) = recorder.requests
    assert sent.url.host == "93.184.215.14"
    assert sent.url.port == 8443
    assert sent.url.raw_path == b"/cb?a=1"
    assert sent.headers["host"] == "shop.example:8443"
    assert sent.extensions["sni_hostname"] == "shop.example"
    assert json.loads(sent.content) == {"n": 1}


async def test_a_rebinding_resolver_is_asked_once(
    recorder: Recorder, resolver: Callable[[Resolver], None]
) -> None:
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        calls.append(host)
        return [ip_address("93.184.215.14" if len(calls) == 1 else "127.0.0.1")]

    resolver(rebinding)
    await request("GET", "http://rebind.example/")
    assert calls == ["rebind.example"]
    (sent,) = recorder.requests
    assert sent.url.host == "93.184.215.14"
    assert sent.headers["host"] == "rebind.example"
    assert "sni_hostname" not in sent.extensions  # plain http: no TLS name


async def test_a_refused_url_sends_nothing(
    recorder: Recorder, resolver: Callable[[Resolver], None]
) -> None:
    resolver(fixed("93.184.215.14", "10.1.2.3"))
    with pytest.raises(OutboundRefused):
        await request("POST", "https://shop.example/cb", content=b"x")
    assert recorder.requests == []


# --- a real local server ----------------------------------------------------------------


@dataclass
class Site:
    port: int
    hits: list[tuple[str, str]] = field(default_factory=list)  # (path, Host)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def site_app(site: Site) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        site.hits.append((path, headers.get("host", "")))

        async def answer(status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
            await send({"type": "http.response.start", "status": status, "headers": extra})
            await send({"type": "http.response.body", "body": body})

        if path == "/echo":
            body = b""
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            payload = {
                "method": scope["method"],
                "host": headers.get("host"),
                "accept_encoding": headers.get("accept-encoding"),
                "body": body.decode(),
            }
            await answer(
                200, json.dumps(payload).encode(), [(b"content-type", b"application/json")]
            )
        elif path == "/redirect":
            await answer(302, b"", [(b"location", b"/echo")])
        elif path == "/big":
            await answer(200, b"x" * (2 * 1024 * 1024), [])
        elif path == "/big-chunked":  # no Content-Length: only counting stops it
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(32):
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/slow":
            await asyncio.wait_for(site.stop.wait(), 30)
            await answer(200, b"late", [])
        elif path == "/drip":  # a byte every 0.1 s: no read timeout, only the deadline
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(300):
                if site.stop.is_set():
                    break
                await send({"type": "http.response.body", "body": b"x", "more_body": True})
                await asyncio.sleep(0.1)
            await send({"type": "http.response.body", "body": b""})
        else:
            await answer(404, b"", [])

    return app


async def _stopped(server: uvicorn.Server, task: asyncio.Task[None], site: Site) -> None:
    site.stop.set()
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def site() -> AsyncIterator[Site]:
    s = Site(port=free_port())
    server, task = await serve_app(site_app(s), s.port)
    yield s
    await _stopped(server, task, s)


@pytest.fixture
def to_site(resolver: Callable[[Resolver], None], site: Site) -> Site:
    resolver(fixed("127.0.0.1"))
    site.hits.clear()
    return site


async def test_a_made_up_name_reaches_the_local_server_with_its_host(
    to_site: Site, allow_loopback: None
) -> None:
    answer = await request("POST", f"http://shop-callback.test:{to_site.port}/echo", json={"a": 1})
    assert answer.status_code == 200
    seen = answer.json()
    assert seen["host"] == f"shop-callback.test:{to_site.port}"
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == {"a": 1}
    assert seen["accept_encoding"] == "identity"
    assert to_site.hits == [("/echo", f"shop-callback.test:{to_site.port}")]


async def test_loopback_is_refused_without_the_setting(to_site: Site) -> None:
    for url in (
        f"http://shop-callback.test:{to_site.port}/echo",
        f"http://127.0.0.1:{to_site.port}/",
    ):
        with pytest.raises(OutboundRefused):
            await request("GET", url)
    assert to_site.hits == []


async def test_redirects_are_returned_not_followed(to_site: Site, allow_loopback: None) -> None:
    answer = await request("GET", f"http://shop-callback.test:{to_site.port}/redirect")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/echo"
    assert [path for path, _ in to_site.hits] == ["/redirect"]


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
async def test_answers_past_the_cap_are_an_error(
    path: str, to_site: Site, allow_loopback: None
) -> None:
    url = f"http://shop-callback.test:{to_site.port}{path}"
    with pytest.raises(OutboundTooLarge) as caught:
        await request("GET", url, max_bytes=1024 * 1024)
    assert (caught.value.code, caught.value.status) == ("outbound_response_too_large", 502)
    assert isinstance(caught.value, OutboundFailed)
    whole = await request("GET", url, max_bytes=2 * 1024 * 1024)
    assert len(whole.content) == 2 * 1024 * 1024


async def test_the_default_cap_comes_from_settings(to_site: Site) -> None:
    with (
        settings_env(
            KAMENG_OUTBOUND_ALLOW_LOOPBACK="true", KAMENG_OUTBOUND_MAX_RESPONSE_BYTES="1048576"
        ),
        pytest.raises(OutboundTooLarge),
    ):
        await request("GET", f"http://shop-callback.test:{to_site.port}/big")


@pytest.mark.parametrize("path", ["/slow", "/drip"])
async def test_a_slow_server_runs_into_the_deadline(
    path: str, to_site: Site, allow_loopback: None
) -> None:
    started = time.monotonic()
    with pytest.raises(OutboundFailed) as caught:
        await request("GET", f"http://shop-callback.test:{to_site.port}{path}", timeout_s=0.5)
    assert (caught.value.code, caught.value.status) == ("outbound_failed", 502)
    assert not isinstance(caught.value, OutboundTooLarge)
    assert time.monotonic() - started < 3


async def test_nothing_listening_is_a_failure(
    resolver: Callable[[Resolver], None], allow_loopback: None
) -> None:
    resolver(fixed("127.0.0.1"))
    with pytest.raises(OutboundFailed) as caught:
        await request("GET", f"http://shop-callback.test:{free_port()}/")
    assert caught.value.code == "outbound_failed"


async def test_the_next_checked_address_is_tried_when_one_refuses_connections(
    resolver: Callable[[Resolver], None], site: Site, allow_loopback: None
) -> None:
    resolver(fixed("127.0.0.2", "127.0.0.1"))  # the server listens on 127.0.0.1 only
    answer = await request("GET", f"http://shop-callback.test:{site.port}/echo")
    assert answer.json()["host"] == f"shop-callback.test:{site.port}"


# --- https: the certificate is checked against the original name ------------------------


def _certificates(folder: Path, name: str) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kameng test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(leaf.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


async def test_https_verifies_the_certificate_against_the_original_name(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    resolver: Callable[[Resolver], None],
    allow_loopback: None,
) -> None:
    ca_file, cert_file, key_file = _certificates(tmp_path, "shop-callback.test")
    s = Site(port=free_port())
    server = uvicorn.Server(
        uvicorn.Config(
            site_app(s),
            host="127.0.0.1",
            port=s.port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(cert_file),
            ssl_keyfile=str(key_file),
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        trusted = ssl.create_default_context(cafile=str(ca_file))
        monkeypatch.setattr(outbound, "_ssl_context", lambda: trusted)
        resolver(fixed("127.0.0.1"))
        answer = await request("GET", f"https://shop-callback.test:{s.port}/echo")
        assert answer.json()["host"] == f"shop-callback.test:{s.port}"
        # the same server under another name: its certificate does not name it
        with pytest.raises(OutboundFailed) as caught:
            await request("GET", f"https://other-shop.test:{s.port}/echo")
        assert "certificate" in str(caught.value.detail).lower()
        # nor the address itself
        with pytest.raises(OutboundFailed):
            await request("GET", f"https://127.0.0.1:{s.port}/echo")
        assert [path for path, _ in s.hits] == ["/echo"]
    finally:
        await _stopped(server, task, s)


async def test_the_open_api_client_through_the_guarded_transport() -> None:
    """The ``kameng`` supplier adapter's client goes through the guard: an internal address is
    refused before anything is sent (``sent`` False: no order can have been placed), a
    loopback one is reached only when loopback is allowed, and the answer comes back whole."""
    from kameng_api.resellers.client import OpenApiClient, OpenApiUnavailable

    async def balance(url: str) -> object:
        async with OpenApiClient(url, "ak_x", "sk_x", transport=outbound.GuardedTransport()) as c:
            return await c.balance()

    for url in ("http://10.0.0.5", "http://169.254.169.254", "http://127.0.0.1:9"):
        with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="false"):
            with pytest.raises(OpenApiUnavailable) as caught:
                await balance(url)
            assert caught.value.sent is False, url

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        assert scope["path"] == "/open/v1/balance"
        assert any(k == b"x-kameng-signature" for k, _ in scope["headers"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"balance": "12.3400"}'})

    port = free_port()
    server, task = await serve_app(app, port)
    try:
        with settings_env(KAMENG_OUTBOUND_ALLOW_LOOPBACK="true"):
            assert str(await balance(f"http://127.0.0.1:{port}")) == "12.3400"
    finally:
        server.should_exit = True
        await task
