"""PIN protection: a keyed hash for look-up and authenticated encryption for reprints.

The keys live outside the database (environment or ``instance/secrets.json``), so a copy of
the database alone never reveals a PIN. Each stored value names its key, so keys can rotate:
new PINs use the first key of each list, look-ups and decryption try every known key.
"""

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

NONCE_BYTES = 12
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


class PinKeyError(RuntimeError):
    """The configured PIN keys are missing or malformed."""


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's padded inner and outer hash states made once.

    ``hmac.digest`` starts again from the key for every message. For a batch of short
    messages (100,000 PINs) copying the two prepared SHA-256 states gives the same MAC in
    about half the time.
    """

    BLOCK_BYTES = 64

    def __init__(self, key: bytes):
        if len(key) > self.BLOCK_BYTES:
            key = hashlib.sha256(key).digest()
        key = key.ljust(self.BLOCK_BYTES, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def hexdigests(self, messages: Iterable[bytes]) -> list[str]:
        """Return the hex MAC of each message."""
        new_inner, new_outer = self._inner.copy, self._outer.copy
        macs = []
        for message in messages:
            inner = new_inner()
            inner.update(message)
            outer = new_outer()
            outer.update(inner.digest())
            macs.append(outer.hexdigest())
        return macs


def _parse_key_list(text: str, decode) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, material = entry.partition(":")
        if not sep:
            key_id, material = "h1", entry
        try:
            keys[key_id] = decode(material)
        except (ValueError, binascii.Error) as exc:
            raise PinKeyError(f"PIN key {key_id!r} is not valid") from exc
    if not keys:
        raise PinKeyError("no PIN key configured")
    return keys


@dataclass(frozen=True)
class PinVault:
    """Hashes and encrypts PINs with the configured keys (first key of each list is current)."""

    hmac_keys: dict[str, bytes]
    encryption_keys: dict[str, bytes]

    @classmethod
    def from_config(cls, hmac_setting: str, encryption_setting: str) -> "PinVault":
        """Build the vault from ``PIN_HMAC_KEY`` and ``PIN_ENCRYPTION_KEYS``."""
        hmac_keys = _parse_key_list(hmac_setting, bytes.fromhex)
        encryption_keys = _parse_key_list(encryption_setting, base64.urlsafe_b64decode)
        for key_id, key in encryption_keys.items():
            if len(key) != 32:
                raise PinKeyError(f"PIN encryption key {key_id!r} must be 32 bytes")
        return cls(hmac_keys, encryption_keys)

    @property
    def current_hmac_key_id(self) -> str:
        """Return the id of the key new PIN hashes use."""
        return next(iter(self.hmac_keys))

    @property
    def current_encryption_key_id(self) -> str:
        """Return the id of the key new PINs are encrypted with."""
        return next(iter(self.encryption_keys))

    def pin_hash(self, pin: str, key_id: str | None = None) -> str:
        """Return the hex HMAC-SHA256 of a normalised PIN under one key."""
        return self.pin_hashes([pin], key_id)[0]

    def pin_hashes(self, pins: Iterable[str], key_id: str | None = None) -> list[str]:
        """Return :meth:`pin_hash` of each PIN, for a whole chunk of a batch at once."""
        mac = _hmac(self.hmac_keys[key_id or self.current_hmac_key_id])
        return mac.hexdigests(pin.encode("ascii") for pin in pins)

    def lookup_hashes(self, pin: str) -> list[str]:
        """Return the PIN's hash under every known key, for look-up across rotations."""
        return [self.pin_hash(pin, key_id) for key_id in self.hmac_keys]

    def seal(self, data: bytes, context: str) -> str:
        """Encrypt ``data`` bound to ``context`` with the current key (base64 nonce+ciphertext)."""
        return self.seal_many([data], [context])[0]

    def seal_many(self, data: Sequence[bytes], contexts: Sequence[str]) -> list[str]:
        """Return :meth:`seal` of each ``data[i]`` bound to ``contexts[i]``.

        The random nonces come from one ``os.urandom`` read for the lot.
        """
        encrypt = _aead(self.encryption_keys[self.current_encryption_key_id]).encrypt
        nonces = os.urandom(NONCE_BYTES * len(data))
        tokens = []
        for index, (plain, context) in enumerate(zip(data, contexts, strict=True)):
            nonce = nonces[index * NONCE_BYTES : (index + 1) * NONCE_BYTES]
            sealed = nonce + encrypt(nonce, plain, context.encode("utf-8"))
            tokens.append(base64.b64encode(sealed).decode("ascii"))
        return tokens

    def unseal(self, token: str, context: str, key_id: str) -> bytes:
        """Return the data sealed in ``token`` for ``context`` (raises if tampered with)."""
        raw = base64.b64decode(token)
        return _aead(self.encryption_keys[key_id]).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8")
        )

    def encrypt_pins(self, pins: Sequence[str], serials: Sequence[str]) -> list[str]:
        """Encrypt each PIN bound to its serial: a sealed PIN moved to another row fails to open."""
        return self.seal_many([pin.encode("ascii") for pin in pins], serials)

    def decrypt(self, token: str, serial: str, key_id: str) -> str:
        """Return the PIN sealed in ``token`` for this serial."""
        return self.unseal(token, serial, key_id).decode("ascii")


@cache
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


@cache
def _hmac(key: bytes) -> HmacSha256:
    return HmacSha256(key)


@cache
def _vault_for(hmac_setting: str, encryption_setting: str) -> PinVault:
    return PinVault.from_config(hmac_setting, encryption_setting)


def pin_vault() -> PinVault:
    """Return the vault of the current app's configured keys."""
    config = current_app.config
    return _vault_for(config["PIN_HMAC_KEY"], config["PIN_ENCRYPTION_KEYS"])
