"""The names a CPU and a machine are stored under, in no one's language, and said in the reader's.

Kept free of torch: the prioritiser says where a speed figure was taken without importing it.
"""

from __future__ import annotations

import re

from backend.i18n import _, ngettext

# A CPU's name and a machine's, as stored in records and logs that any reader may open later: in
# no one's language, and said in the reader's by ``said_hardware``.
_CPU_NAME = re.compile(r"CPU \((\d+) cores?\)")
_MACHINE_NAME = re.compile(r"(.+), (\d+) cores?")


def cpu_name(cores: int) -> str:
    """This kind of CPU device's stored name, e.g. "CPU (2 cores)"."""
    return f"CPU ({cores} cores)"


def machine_name(processor: str, cores: int) -> str:
    """A machine's stored name: its processor model and core count."""
    return f"{processor}, {cores} cores"


def said_hardware(name: str) -> str:
    """A stored device or machine name (``cpu_name``, ``machine_name``) in the reader's language;
    any other name (a GPU's, a model server's) is its own and stays as it is."""
    if found := _CPU_NAME.fullmatch(name):
        cores = int(found[1])
        return ngettext("CPU ({count} core)", "CPU ({count} cores)", cores).format(count=cores)
    if found := _MACHINE_NAME.fullmatch(name):
        return _("{name}, {cores} cores").format(name=found[1], cores=int(found[2]))
    return name
