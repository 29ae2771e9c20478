"""SecretBox sealing, the master key file, and generated key pairs."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.secrets import (
    SecretBox,
    SecretBoxError,
    generate_access_key,
    generate_master_key,
    generate_secret_key,
    load_or_create_master_key,
)

BOX = SecretBox(bytes(range(32)))


@given(plaintext=st.text(), context=st.text())
def test_secret_box__round_trip(plaintext: str, context: str) -> None:
    assert BOX.decrypt(BOX.encrypt(plaintext, context), context) == plaintext


def test_secret_box__same_plaintext_seals_differently_each_time() -> None:
    assert BOX.encrypt("s", "ctx") != BOX.encrypt("s", "ctx")


def test_secret_box__ciphertext_never_contains_the_plaintext() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    token = BOX.encrypt(secret, "PCKEY")
    raw = base64.urlsafe_b64decode(token.split(".", 1)[1])
    assert secret not in token and secret.encode() not in raw


def test_secret_box__tampered_ciphertext_is_refused() -> None:
    token = BOX.encrypt("secret", "PCKEY")
    version, body = token.split(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 1
    tampered = f"{version}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(SecretBoxError):
        BOX.decrypt(tampered, "PCKEY")


def test_secret_box__wrong_context_is_refused() -> None:
    token = BOX.encrypt("secret", "PCKEY1")
    with pytest.raises(SecretBoxError):
        BOX.decrypt(token, "PCKEY2")


def test_secret_box__wrong_master_key_is_refused() -> None:
    token = BOX.encrypt("secret", "PCKEY")
    with pytest.raises(SecretBoxError):
        SecretBox(generate_master_key()).decrypt(token, "PCKEY")


@pytest.mark.parametrize("token", ["", "v1.", "v2.AAAA", "v1.!!!", "v1.AAAA", "plain"])
def test_secret_box__garbage_is_refused(token: str) -> None:
    with pytest.raises(SecretBoxError):
        BOX.decrypt(token, "PCKEY")


def test_secret_box__master_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32"):
        SecretBox(b"short")


def test_master_key__created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    first = load_or_create_master_key(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]  # no temporary left


def test_master_key__readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    load_or_create_master_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError):
        load_or_create_master_key(path)


@pytest.mark.parametrize("content", ["zz" * 32, "ab" * 16, ""])
def test_master_key__bad_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "master.key"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(ValueError, match=r"master key|bytes"):
        load_or_create_master_key(path)


def test_generate_access_key__shape() -> None:
    keys = {generate_access_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert len(key) == 20 and key.startswith("PC")
        assert key.isascii() and key.isalnum() and key == key.upper()


def test_generate_secret_key__shape() -> None:
    keys = {generate_secret_key() for _ in range(200)}
    assert len(keys) == 200
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    assert all(len(k) == 40 and set(k) <= alphabet for k in keys)
