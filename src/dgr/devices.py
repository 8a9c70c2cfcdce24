"""``--device``: checked before anything loads, so a typo or a missing GPU is one line."""
from __future__ import annotations

import re

from dgr.errors import DgrError

DEVICE_PATTERN = re.compile(r"^(cpu|cuda|mps|xpu)(:\d+)?$")
DEVICE_HELP = "cpu, cuda, cuda:N or mps"


def check_device(device: str, flag: str = "--device") -> str:
    """Refuse a device that is not a device name, or one this machine does not have; returns it."""
    match = DEVICE_PATTERN.match(device)
    if match is None:
        raise DgrError(f"{flag} {device!r} is not a device; use {DEVICE_HELP}")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        return device
    import torch

    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
            raise DgrError(f"{flag} {device}: {why} on this machine; use {flag} cpu")
        if index is not None and int(index[1:]) >= count:
            raise DgrError(f"{flag} {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise DgrError(f"{flag} {device}: Apple's MPS is not available on this machine; use {flag} cpu")
    elif kind == "xpu" and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise DgrError(f"{flag} {device}: no Intel XPU is available on this machine; use {flag} cpu")
    return device
