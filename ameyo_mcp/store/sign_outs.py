"""The operator page's sign-outs: the cookies signed out before they expire, as a digest of each
cookie's random id with its expiry, so that every process on the store refuses a copied cookie
once its browser signed out. Neither the token nor a cookie is ever here: an id's digest cannot be
turned back into a cookie, and a cookie also needs its HMAC under the token. A row is pruned once
its cookie has expired (every cookie dies then anyway), at each sign-out, so the table holds at most
the sign-outs of one cookie lifetime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends import Tx


def revoke(tx: Tx, digest: str, expires: float, now: float) -> None:
    tx.run("DELETE FROM page_sign_outs WHERE expires <= ?", (now,))
    tx.run(
        "INSERT INTO page_sign_outs (digest, expires) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (digest, expires),
    )


def revoked(tx: Tx, digest: str) -> bool:
    return tx.first("SELECT 1 FROM page_sign_outs WHERE digest = ?", (digest,)) is not None
