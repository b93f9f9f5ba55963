"""Who holds a row of the store: a process, named so that any process on the store can tell, on its
own host, whether that process still runs.

An owner is `machine:pid:nonce`. The machine part is the host name, its boot and its process
namespace: where a process id names the same process (two containers may share a host name and
reuse each other's process ids). Elsewhere only the row's own lease can say an owner is gone.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path


@functools.cache
def machine() -> str:
    """This host, boot and process namespace."""
    parts = [socket.gethostname().replace(":", "-")]
    for path, link in (("/proc/sys/kernel/random/boot_id", False), ("/proc/self/ns/pid", True)):
        try:
            text = os.readlink(path) if link else Path(path).read_text()
        except OSError:
            continue
        parts.append(hashlib.sha256(text.strip().encode()).hexdigest()[:8])
    return "/".join(parts)


def new_owner() -> str:
    """A new owner name for something of this process (a write path, a session manager)."""
    return f"{machine()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_alive(owner: str, *, here: Callable[[str], bool]) -> bool:
    """Whether `owner` may still be at work. On this host a process that is gone is seen at once;
    an owner of this very process is alive when `here` says so; elsewhere, always (the row's lease
    says when it stops counting)."""
    machine_name, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if machine_name != machine() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return here(owner)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
