"""Host names and addresses: which ones stay on this machine. Shared by ``mind app`` (whether to require a token)
and the dashboard's access check (:mod:`app.access`); below both."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1); False for 0.0.0.0, :: and host names."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
