"""The page benchmark's CPU split and rates: pure helpers, no browser or model needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks import page_speed


def test_two_cpus_give_the_browser_one_and_the_app_side_the_other():
    assert page_speed.plan_pinning({0, 1}) == page_speed.Pinning(browser=(0,), app=(1,))


def test_more_cpus_keep_the_browser_on_one_and_give_the_app_side_the_rest():
    assert page_speed.plan_pinning({2, 5, 3, 4}) == page_speed.Pinning(browser=(2,), app=(3, 4, 5))


def test_one_cpu_is_not_split():
    assert page_speed.plan_pinning({7}) is None


def test_a_pinned_command_runs_on_the_given_cpu_only():
    cpu = min(os.sched_getaffinity(0))
    probe = [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]
    done = subprocess.run(page_speed.pinned_command(probe, (cpu,)), capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"[{cpu}]"


def test_the_chromium_wrapper_passes_its_arguments_through_on_the_given_cpu(tmp_path, monkeypatch):
    cpu = min(os.sched_getaffinity(0))
    # Stand in for Chromium: a program that reports its CPUs and arguments.
    fake = tmp_path / "fake-browser"
    fake.write_text(f"#!{sys.executable}\nimport os, sys\nprint(sorted(os.sched_getaffinity(0)), sys.argv[1:])\n")
    fake.chmod(0o755)
    monkeypatch.setattr(page_speed, "_CHROMIUM", str(fake))
    wrapper = page_speed._chromium_wrapper(str(tmp_path), (cpu,))
    done = subprocess.run([wrapper, "--headless", "a b"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"[{cpu}] ['--headless', 'a b']"


@pytest.mark.parametrize(
    ("tokens_after_first", "seconds", "first_token_ms", "expected"),
    [(10, 2.0, 1000.0, 10.0), (0, 2.0, 100.0, 0.0), (5, 0.1, 100.0, 0.0)],
)
def test_decode_rate_counts_the_tokens_after_the_first_over_the_time_after_it(
    tokens_after_first, seconds, first_token_ms, expected
):
    assert page_speed.decode_rate(tokens_after_first, seconds, first_token_ms) == expected
