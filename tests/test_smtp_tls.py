"""Mail goes only to an SMTP server whose certificate we trust: local TLS SMTP servers
(aiosmtpd, STARTTLS and implicit TLS) with a certificate from a CA made here. Without that CA
configured the mail — and the SMTP login — never leave; with it, the mail arrives."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kameng_api.notifications.tasks import send_mail, send_mails
from tests.support.procs import free_port, settings_env
from tests.test_accounts_mail import Inbox

# what a refused server makes send_mail raise (STARTTLS: the ssl error; implicit: wrapped)
REFUSED = (ssl.SSLError, aiosmtplib.SMTPException)


class Pki:
    """A private CA and a server certificate it signed, as PEM files."""

    def __init__(self, tmp: Path, *, names: list[str], ips: list[str]) -> None:
        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kameng test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp test")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = tmp / "ca.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file = tmp / "server.pem"
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file = tmp / "server.key"
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


class Relay(Inbox):
    """The inbox, and the logins it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.logins: list[tuple[str, str]] = []

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)


@contextmanager
def _serve(relay: Relay, mode: str, pki: Pki) -> Iterator[int]:
    port = free_port()
    kw: dict[str, Any] = {"authenticator": relay.authenticate}
    if mode == "implicit":
        kw["ssl_context"] = pki.server_context()
        kw["auth_require_tls"] = False  # the whole connection is TLS
    elif mode == "starttls":
        kw["tls_context"] = pki.server_context()
        kw["require_starttls"] = True
    else:
        kw["auth_require_tls"] = False
    controller = Controller(relay, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path, names=["localhost"], ips=["127.0.0.1"])


@pytest.fixture(params=["starttls", "implicit"])
def relay(request: pytest.FixtureRequest, pki: Pki) -> Iterator[tuple[Relay, str, int]]:
    box = Relay()
    with _serve(box, request.param, pki) as port:
        yield box, request.param, port


def _env(port: int, mode: str, **more: str) -> dict[str, str]:
    return {
        "KAMENG_SMTP_HOST": "127.0.0.1",
        "KAMENG_SMTP_PORT": str(port),
        "KAMENG_SMTP_TLS": mode,
        "KAMENG_SMTP_USERNAME": "relay-user",
        "KAMENG_SMTP_PASSWORD": "relay-secret",
    } | more


async def test_untrusted_certificate_is_refused_and_the_password_never_sent(
    relay: tuple[Relay, str, int],
) -> None:
    box, mode, port = relay
    with (
        settings_env(**_env(port, mode)),
        pytest.raises(REFUSED, match=r"CERTIFICATE_VERIFY_FAILED.*unable to get local issuer"),
    ):
        await send_mail("buyer@shop.example.com", "Your key", "K-1", "m-1")
    assert box.messages == []
    assert box.logins == []


async def test_with_the_ca_configured_the_mail_arrives(
    relay: tuple[Relay, str, int], pki: Pki
) -> None:
    box, mode, port = relay
    with settings_env(**_env(port, mode, KAMENG_SMTP_CA_FILE=str(pki.ca_file))):
        await send_mail("buyer@shop.example.com", "Your key", "K-1", "outbox-7")
    [m] = box.for_("buyer@shop.example.com")
    assert m["Message-ID"] == "<outbox-7@kameng>"
    assert Inbox.text(m).strip() == "K-1"
    assert box.logins == [("relay-user", "relay-secret")]


async def test_batch_over_tls_sends_every_mail_on_one_connection(
    relay: tuple[Relay, str, int], pki: Pki
) -> None:
    box, mode, port = relay
    mails = [(f"b{n}@shop.example.com", "Your key", f"K-{n}", f"outbox-9-{n}") for n in range(3)]
    with settings_env(**_env(port, mode, KAMENG_SMTP_CA_FILE=str(pki.ca_file))):
        # as the delivery notices call it: in a thread without an event loop
        sent, error = await asyncio.to_thread(send_mails, mails)
    assert (sent, error) == (3, None)
    assert [m["To"] for m in box.messages] == [to for to, *_ in mails]
    assert len(box.logins) == 1


async def test_the_host_name_is_checked(tmp_path: Path) -> None:
    """A certificate from the trusted CA but for another name is refused too."""
    other = Pki(tmp_path, names=["mail.other.example"], ips=[])
    box = Relay()
    with _serve(box, "starttls", other) as port:
        env = _env(port, "starttls", KAMENG_SMTP_CA_FILE=str(other.ca_file))
        with settings_env(**env), pytest.raises(REFUSED, match="IP address mismatch"):
            await send_mail("buyer@shop.example.com", "Your key", "K-1", "m-1")
    assert box.messages == []
    assert box.logins == []


async def test_old_starttls_setting_still_verifies(pki: Pki) -> None:
    """KAMENG_SMTP_STARTTLS=true (the older setting) now means a verified STARTTLS."""
    box = Relay()
    with _serve(box, "starttls", pki) as port:
        env = _env(port, "starttls") | {"KAMENG_SMTP_STARTTLS": "true"}
        env.pop("KAMENG_SMTP_TLS")
        with settings_env(**env), pytest.raises(REFUSED, match="CERTIFICATE_VERIFY_FAILED"):
            await send_mail("buyer@shop.example.com", "Your key", "K-1", "m-1")
        assert box.messages == []
        assert box.logins == []
        with settings_env(**env, KAMENG_SMTP_CA_FILE=str(pki.ca_file)):
            await send_mail("buyer@shop.example.com", "Your key", "K-1", "m-1")
        assert len(box.messages) == 1


async def test_starttls_required_a_server_without_it_gets_nothing(pki: Pki) -> None:
    """KAMENG_SMTP_TLS=starttls is not "if offered": a plain server (or a man in the middle
    stripping the offer) gets neither the login nor the mail."""
    box = Relay()
    with _serve(box, "none", pki) as port:
        env = _env(port, "starttls", KAMENG_SMTP_CA_FILE=str(pki.ca_file))
        with settings_env(**env), pytest.raises(REFUSED, match="STARTTLS extension not supported"):
            await send_mail("buyer@shop.example.com", "Your key", "K-1", "m-1")
    assert box.messages == []
    assert box.logins == []
