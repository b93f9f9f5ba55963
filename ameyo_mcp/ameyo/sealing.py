"""The shared session as the store keeps it: sealed with AES-256-GCM, by a key every process of one
deployment derives alike, so that the store (a shared PostgreSQL, a SQLite file, their backups)
never holds a session id in clear.

The key comes from AMEYO_SECRET_KEY when it is set (its key for this purpose, `derived_key`), and
otherwise from what every replica already shares, the Ameyo password (scrypt, salted with the
server and the user). Either
way it is bound to the Ameyo server and user, and so is each sealed text (its associated data): a
text moved to another server's or user's row does not open. A text that does not open (sealed with
another key, damaged) is no session: `open` answers None, never an error.

`cryptography` is imported on the first seal or open, not at start.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
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

    def _aead(self) -> AESGCM:
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            settings = self._settings
            # AMEYO_SECRET_KEY's key for this purpose, else one from the password.
            key = settings.derived_key("session-lease")
            if key is None:
                if settings.password is None:  # token authentication: no session, nothing to seal
                    raise ValueError("no key: neither AMEYO_SECRET_KEY nor AMEYO_PASSWORD is set")
                key = _from_password(settings.password.get_secret_value(), self._bound)
            self._cipher = AESGCM(key)
        return self._cipher

    def credentials_tag(self) -> str:
        """A tag of the credentials this process logs in with, the same in every process given the
        same (and the same key): a refused login makes the processes that share the tag back off,
        and only them. It tells nothing of the password to whoever lacks the key."""
        settings = self._settings
        password = settings.password.get_secret_value() if settings.password is not None else ""
        mine = _from_password(password, self._bound)
        key = settings.derived_key("session-lease") or mine
        return hmac.new(key, b"refused|" + mine, hashlib.sha256).hexdigest()[:32]

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
def _from_password(password: str, bound: bytes) -> bytes:
    """A key from the password every replica is given: scrypt, so that each guess of the password
    tried against a stolen database costs what a guess of the key costs; its salt is the server and
    user, the same on every replica. (AMEYO_SECRET_KEY, long and random, leaves nothing to guess.)"""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = hashlib.sha256(_CONTEXT + b"|" + bound).digest()
    return Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(password.encode())
