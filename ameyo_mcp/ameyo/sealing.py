"""The shared session as the store keeps it: sealed with AES-256-GCM, by a key every process of one
deployment derives alike, so that the store (a shared PostgreSQL, a SQLite file, their backups)
never holds a session id in clear.

The key comes from AMEYO_SECRET_KEY when it is set (HKDF-SHA256), and otherwise from what every
replica already shares, the Ameyo password (scrypt, salted with the server and the user). Either
way it is bound to the Ameyo server and user, and so is each sealed text (its associated data): a
text moved to another server's or user's row does not open. A text that does not open (sealed with
another key, damaged) is no session: `open` answers None, never an error.

`cryptography` is imported on the first seal or open, not at start.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from typing import TYPE_CHECKING

from .models import LoginInfo

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ..config import Settings

_VERSION = "v1."
_CONTEXT = b"ameyo-mcp session lease v1"
_NONCE_BYTES = 12
# scrypt's cost: about 16 MiB and a few tens of milliseconds, once per process.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class Sealer:
    """Seals and opens the login answer (session id included) of one Ameyo server and user."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bound = f"{settings.base_url}|{settings.user_id or ''}".encode()
        self._cipher: AESGCM | None = None

    @property
    def keyed_by_secret(self) -> bool:
        return self._settings.secret_key is not None

    def _aead(self) -> AESGCM:
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            settings = self._settings
            if settings.secret_key is not None:
                key = _from_secret(settings.secret_key.get_secret_value(), self._bound)
            elif settings.password is not None:
                key = _from_password(settings.password.get_secret_value(), self._bound)
            else:  # token authentication: no session, nothing to seal
                raise ValueError("no key: neither AMEYO_SECRET_KEY nor AMEYO_PASSWORD is set")
            self._cipher = AESGCM(key)
        return self._cipher

    def seal(self, info: LoginInfo) -> str:
        plain = json.dumps(info.model_dump(mode="json", by_alias=True)).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead().encrypt(nonce, plain, self._bound)
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, text: str | None) -> LoginInfo | None:
        """The login answer sealed in `text`; None when it does not open with this key."""
        from cryptography.exceptions import InvalidTag

        if not text or not text.startswith(_VERSION):
            return None
        try:
            raw = base64.urlsafe_b64decode(text[len(_VERSION) :].encode("ascii"))
            nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
            plain = self._aead().decrypt(nonce, sealed, self._bound)
            return LoginInfo.model_validate(json.loads(plain))
        except (InvalidTag, ValueError, TypeError):
            return None


@functools.lru_cache(maxsize=8)
def _from_secret(secret: str, bound: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_CONTEXT, info=bound).derive(secret.encode())


@functools.lru_cache(maxsize=8)
def _from_password(password: str, bound: bytes) -> bytes:
    """A key from the password every replica is given: scrypt, so that each guess of the password
    tried against a stolen database costs what a guess of the key costs; its salt is the server and
    user, the same on every replica. (AMEYO_SECRET_KEY, long and random, leaves nothing to guess.)"""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = hashlib.sha256(_CONTEXT + b"|" + bound).digest()
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(password.encode())
