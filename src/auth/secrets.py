"""Credentials at rest: AES-256-GCM sealing of secret keys, the master key file, new key pairs.

A sealed value is `v1.<base64url(nonce || ciphertext || tag)>`; the associated data binds it to
a context (e.g. its access key id) so a ciphertext copied onto another record will not open.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import string
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "ACCESS_KEY_PREFIX",
    "MASTER_KEY_BYTES",
    "SecretBox",
    "SecretBoxError",
    "generate_access_key",
    "generate_master_key",
    "generate_secret_key",
    "load_or_create_master_key",
]

MASTER_KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the 96-bit nonce GCM is designed for (NIST SP 800-38D)
VERSION = "v1"
_AAD_LABEL = b"pcache-secret-v1\x00"  # domain-separates our associated data

ACCESS_KEY_PREFIX = "PC"
ACCESS_KEY_LENGTH = 20  # as AWS access key ids
SECRET_KEY_LENGTH = 40  # as AWS secret access keys
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_KEY_ALPHABET = string.ascii_letters + string.digits + "+/"
_KEY_FILE_MODE = 0o600


class SecretBoxError(ValueError):
    """A sealed value is malformed, tampered with, or belongs to another context or key."""


class SecretBox:
    """Seal and open short secrets with one master key (AES-256-GCM, random nonce each time)."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise ValueError(f"the master key must be {MASTER_KEY_BYTES} bytes")
        self._aead = AESGCM(master_key)

    @staticmethod
    def _aad(context: str) -> bytes:
        return _AAD_LABEL + context.encode("utf-8")

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), self._aad(context))
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, context: str) -> str:
        version, sep, body = token.partition(".")
        if not sep or version != VERSION:
            raise SecretBoxError("unknown sealed-value format")
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise SecretBoxError("sealed value is not base64") from None
        nonce, sealed = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        if len(nonce) != NONCE_BYTES:
            raise SecretBoxError("sealed value too short")
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(context)).decode("utf-8")
        except InvalidTag:
            raise SecretBoxError("sealed value does not open with this key and context") from None


def generate_master_key() -> bytes:
    return secrets.token_bytes(MASTER_KEY_BYTES)


def _read_master_key(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & 0o077:
        # Like ssh with private keys: a key others can read is refused, not silently used.
        raise PermissionError(f"{path} must not be accessible by group or others (chmod 600)")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{path} does not hold a hex master key") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ValueError(f"{path} must hold {MASTER_KEY_BYTES} bytes ({2 * MASTER_KEY_BYTES} hex)")
    return key


def load_or_create_master_key(path: str | os.PathLike[str]) -> bytes:
    """Read the hex master key at `path`, creating it (mode 0600, 32 random bytes) if absent.

    Creation is atomic: the key is written to a private temporary file and hard-linked into
    place, so concurrent starters agree on one key and nobody reads a half-written file.
    """
    target = Path(path)
    if target.exists():
        return _read_master_key(target)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _KEY_FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate_master_key().hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use its key
            os.link(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_master_key(target)


def generate_access_key() -> str:
    """A new access key id: "PC" + 18 characters of A-Z0-9 (20 in all, like AWS's)."""
    body = "".join(
        secrets.choice(_ACCESS_KEY_ALPHABET)
        for _ in range(ACCESS_KEY_LENGTH - len(ACCESS_KEY_PREFIX))
    )
    return ACCESS_KEY_PREFIX + body


def generate_secret_key() -> str:
    """A new 40-character secret access key (A-Z a-z 0-9 + /, ~238 bits)."""
    return "".join(secrets.choice(_SECRET_KEY_ALPHABET) for _ in range(SECRET_KEY_LENGTH))
