"""Security primitives: argon2id password hashing (off the event loop), JWT with an algorithm
allowlist, opaque tokens stored as hashes, constant-time comparison, field encryption."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jose import JWTError, jwt

from kameng_api.core.clock import clock
from kameng_api.settings import get_settings

# OWASP's argon2id floor: 19 MiB memory, 2 iterations, 1 lane.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32)
# A real hash to verify against when the account does not exist (equal timing).
_DUMMY_HASH = _hasher.hash("kameng-dummy-password-for-timing")

JWT_ALGORITHM = "HS256"
JWT_ALLOWED_ALGORITHMS = [JWT_ALGORITHM]
JWT_ISSUER = "kameng"
JWT_AUDIENCE = "kameng-api"


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time: an unknown account still pays for one argon2 verification."""

    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(_verify)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


class TokenError(Exception):
    """A token that is malformed, forged, expired, or of the wrong type."""


def encode_jwt(claims: dict[str, Any], ttl: timedelta, typ: str) -> str:
    now = clock.now()
    payload = {
        **claims,
        "typ": typ,
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()) - 5,
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_hex(8),
    }
    key = get_settings().secret_key.get_secret_value()
    return str(jwt.encode(payload, key, algorithm=JWT_ALGORITHM))


# Tokens this process verified, until they expire: a client sends the same access token with
# every request for its lifetime, and checking the signature each time costs more than the
# rest of a cheap answer (the flash-sale gate). Only successes are kept, bounded in number.
_VERIFIED_MAX = 8192
_verified: dict[tuple[str, str, str], dict[str, Any]] = {}


def decode_jwt(token: str, typ: str) -> dict[str, Any]:
    cache_key = (token, typ, get_settings().secret_key.get_secret_value())
    hit = _verified.get(cache_key)
    if hit is not None:
        if hit["exp"] > time.time():
            return dict(hit)
        del _verified[cache_key]
    claims = _decode_jwt(token, typ)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[cache_key] = claims
    return dict(claims)


def _decode_jwt(token: str, typ: str) -> dict[str, Any]:
    key = get_settings().secret_key.get_secret_value()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in JWT_ALLOWED_ALGORITHMS:
            raise TokenError("algorithm not allowed")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=JWT_ALLOWED_ALGORITHMS,
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require_exp": True, "require_iat": True, "require_sub": True},
        )
    except JWTError as exc:
        raise TokenError(str(exc)) from exc
    if claims.get("typ") != typ:
        raise TokenError("wrong token type")
    return claims


def new_opaque_token(nbytes: int = 32) -> str:
    """A random token (≥ 128 bits) for refresh tokens, codes sent by mail, etc."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens are stored only as keyed SHA-256 hashes."""
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---- field encryption (AES-GCM with a key id, so keys can rotate) ---------------------------


def _field_key(key_id: str) -> bytes:
    settings = get_settings()
    if settings.field_keys:
        if key_id not in settings.field_keys:
            raise KeyError(f"unknown field key id {key_id!r}")
        return base64.b64decode(settings.field_keys[key_id].get_secret_value())
    secret = settings.secret_key.get_secret_value().encode()
    return hashlib.sha256(b"kameng-field-key:" + key_id.encode() + b":" + secret).digest()


def field_cipher(key_id: str | None = None) -> tuple[str, AESGCM]:
    """``(key id, cipher)`` for bulk encryption (new data: the current key id)."""
    kid = key_id or get_settings().field_key_id
    return kid, _cipher(_field_key(kid))


@functools.lru_cache(maxsize=32)
def _cipher(key: bytes) -> AESGCM:
    """One cipher object per key (keyed by the key itself: a rotation is never missed);
    setting one up cost more than decrypting a card key with it."""
    return AESGCM(key)


def dedupe_key() -> bytes:
    """Key of the keyed hash that finds duplicate secrets (stable: never rotated)."""
    settings = get_settings()
    configured = settings.dedupe_key.get_secret_value()
    if configured:
        return base64.b64decode(configured)
    secret = settings.secret_key.get_secret_value().encode()
    return hashlib.sha256(b"kameng-dedupe-key:" + secret).digest()


def encrypt_field(plaintext: str, *, aad: str = "") -> str:
    """``<key id>:<base64(nonce|ciphertext)>``; ``aad`` binds the value to its row/column."""
    key_id = get_settings().field_key_id
    nonce = os.urandom(12)
    ct = AESGCM(_field_key(key_id)).encrypt(nonce, plaintext.encode(), aad.encode())
    return key_id + ":" + base64.b64encode(nonce + ct).decode()


def decrypt_field(stored: str, *, aad: str = "") -> str:
    key_id, _, blob = stored.partition(":")
    raw = base64.b64decode(blob)
    return AESGCM(_field_key(key_id)).decrypt(raw[:12], raw[12:], aad.encode()).decode()


def utc_in(seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)
