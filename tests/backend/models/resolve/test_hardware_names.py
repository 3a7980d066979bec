"""A CPU's and a machine's stored names are in no one's language and read in the reader's."""

from __future__ import annotations

from backend.i18n import use_language
from backend.models.resolve.hardware_names import cpu_name, machine_name, said_hardware


def test_stored_names_read_in_each_language_and_other_names_stay_their_own():
    stored_cpu, stored_machine = cpu_name(2), machine_name("AMD EPYC 7B13", 2)
    assert (stored_cpu, stored_machine) == ("CPU (2 cores)", "AMD EPYC 7B13, 2 cores")
    assert said_hardware(stored_cpu) == "CPU (2 cores)" and said_hardware(cpu_name(1)) == "CPU (1 core)"
    with use_language("zh"):
        assert said_hardware(stored_cpu) == "CPU（2 核）"
        assert said_hardware(stored_machine) == "AMD EPYC 7B13，2 核"
        assert said_hardware("NVIDIA H100 80GB HBM3") == "NVIDIA H100 80GB HBM3"
