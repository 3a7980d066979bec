"""What a host resolves from the requirement files, as far as this machine can tell.

Checked here, for a plain Linux x86-64 host on Python 3.11, 3.12 and 3.13 (Community Cloud's
choices) and for macOS, Windows and Linux on Arm: which torch line applies (its markers evaluated by
``packaging``, as pip and uv evaluate them), that it names PyTorch's CPU wheel for that Python, and
that requirements.txt holds none of the packages only some deployments use. Then pip and uv (Cloud
installs with uv, pip where uv fails) each resolve the whole of requirements.txt against PyPI itself,
as a manylinux x86-64 host with no local index or wheel folder, with the CPU wheel taken from where
it was found: nothing CUDA may come with it.

Not checked here: that PyTorch's wheel page serves the three URLs. This machine does not reach
download.pytorch.org, so the resolve runs only for a Python whose CPU wheel lies on this disk
(pip's find-links folders; here the 3.11 one) and skips the others with that reason. For every
Python, PyPI's torch of the same release then stands in, to show that every other pin has a wheel
for it (and that PyPI's build brings the CUDA packages). Not checked: the CUDA build that
``LSM_TORCH=cuda`` installs, on a GPU.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from backend import optional

ROOT = Path(__file__).resolve().parent.parent
CLOUD_PYTHONS = ("3.11", "3.12", "3.13")
CPU_WHEEL_PAGE = "https://download.pytorch.org/whl/cpu/"
PYPI = "https://pypi.org/simple"
# The wheel platforms a glibc 2.28 x86-64 host (PyTorch's wheels' tag) runs, newest first.
MANYLINUX_2_28_X86_64 = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
# Packages that only come with the CUDA build of torch.
_CUDA_PACKAGE = re.compile(r"^(nvidia-|cuda-|triton$)")


def read_requirements(name: str) -> list[Requirement]:
    """The requirements in a requirement file, following ``-r`` includes; other options are skipped."""
    found: list[Requirement] = []
    for raw in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            found += read_requirements(line.split(maxsplit=1)[1])
        elif not line.startswith("-"):
            found.append(Requirement(line))
    return found


def host(system: str, machine: str, python: str) -> dict[str, str]:
    """Marker values of a host (those the files use, and their companions)."""
    return {
        "sys_platform": system,
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[system],
        "os_name": "nt" if system == "win32" else "posix",
        "platform_machine": machine,
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
    }


def torch_for(environment: dict[str, str], name: str = "requirements.txt") -> Requirement:
    applying = [
        requirement
        for requirement in read_requirements(name)
        if requirement.name == "torch" and (requirement.marker is None or requirement.marker.evaluate(environment))
    ]
    assert len(applying) == 1, f"{len(applying)} torch lines apply to {environment}: {applying}"
    return applying[0]


def names(name: str) -> set[str]:
    return {canonicalize_name(requirement.name) for requirement in read_requirements(name)}


def torch_pin() -> Version:
    (plain,) = [r for r in read_requirements("requirements.txt") if r.name == "torch" and r.url is None]
    (specifier,) = plain.specifier
    assert specifier.operator == "=="
    return Version(specifier.version)


@pytest.mark.parametrize("python", CLOUD_PYTHONS)
def test_a_plain_linux_x86_64_host_gets_pytorchs_cpu_wheel(python):
    torch = torch_for(host("linux", "x86_64", python))
    assert torch.url and torch.url.startswith(CPU_WHEEL_PAGE), torch
    name, version, _, tags = parse_wheel_filename(unquote(urlparse(torch.url).path.rsplit("/", 1)[1]))
    cp = "cp" + python.replace(".", "")
    assert (name, version) == ("torch", Version(f"{torch_pin()}+cpu"))
    assert Tag(cp, cp, "manylinux_2_28_x86_64") in tags


@pytest.mark.parametrize(
    ("system", "machine", "python"),
    [
        ("darwin", "arm64", "3.12"),
        ("darwin", "x86_64", "3.11"),
        ("win32", "AMD64", "3.12"),
        ("linux", "aarch64", "3.12"),
        # A Python with no CPU wheel line still gets torch (the package index's).
        ("linux", "x86_64", "3.14"),
    ],
)
def test_other_hosts_get_torch_from_the_package_index_unchanged(system, machine, python):
    torch = torch_for(host(system, machine, python))
    assert torch.url is None
    assert str(torch.specifier) == f"=={torch_pin()}"


def test_the_test_command_resolves_torch_as_requirements_txt_does():
    for python in CLOUD_PYTHONS:
        environment = host("linux", "x86_64", python)
        assert torch_for(environment, "requirements-dev.txt") == torch_for(environment)


def test_requirements_txt_holds_none_of_the_optional_packages():
    optional_names = {canonicalize_name(name) for name in optional.REQUIREMENT_FILES}
    assert names("requirements.txt") & optional_names == set()


@pytest.mark.parametrize("distribution", sorted(optional.REQUIREMENT_FILES))
def test_each_optional_package_is_in_the_file_its_message_names(distribution):
    file = optional.REQUIREMENT_FILES[distribution]
    assert canonicalize_name(distribution) in names(file)
    text = optional.missing(distribution, "A feature").user_text()
    assert file in text
    if file == "requirements-llama-cpp.txt":  # built by its script, with the flags the script sets
        assert "bash scripts/install-llama-cpp.sh" in text
    else:
        assert f"pip install -r {file}" in text


def test_the_test_command_installs_every_optional_file():
    dev = names("requirements-dev.txt")
    # llama-cpp-python compiles itself, so scripts/test.sh installs it with its own script.
    assert "bash scripts/install-llama-cpp.sh" in (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    for distribution, file in optional.REQUIREMENT_FILES.items():
        if file != "requirements-llama-cpp.txt":
            assert canonicalize_name(distribution) in dev, f"{distribution} ({file}) is not in requirements-dev.txt"


# Optional distributions imported under another name.
_IMPORT_NAMES = {"llama-cpp-python": "llama_cpp"}
_IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # import raises ModuleNotFoundError, as where it is not installed
import backend, pages.components
for package in (backend, pages.components):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
"""


def test_the_app_and_its_worker_import_without_any_optional_package():
    """What Community Cloud installs is enough to import every backend module and page component."""
    absent = [_IMPORT_NAMES.get(distribution, distribution) for distribution in optional.REQUIREMENT_FILES]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING, *absent],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


# --- pip and uv against PyPI itself ----------------------------------------------------------------


def _reachable(url: str, timeout: float) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except Exception:  # noqa: BLE001 - any failure means the same here
        return False
    return True


def _find_links_folders() -> list[Path]:
    """The folders pip is configured to take wheels from on this machine (its find-links)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    values = [line.split("=", 1)[1].strip("'") for line in listed.splitlines() if ".find-links=" in line]
    values.append(os.environ.get("PIP_FIND_LINKS", ""))
    return [Path(unquote(urlparse(v).path)) for value in values for v in value.split() if v]


def _cpu_wheel(python: str) -> str | None:
    """The CPU wheel requirements.txt names for ``python``: a file on this disk, or its URL if reachable."""
    url = torch_for(host("linux", "x86_64", python)).url
    assert url
    filename = unquote(url.rsplit("/", 1)[1])
    for folder in _find_links_folders():
        if (folder / filename).is_file():
            return (folder / filename).as_uri()
    return url if _reachable(url, timeout=3) else None


def _resolve_with_pip(requirements: Path, python: str, report: Path) -> dict[str, str]:
    options = "install --dry-run --ignore-installed --quiet --only-binary=:all:"
    target = f"--python-version {python} --implementation cp --abi cp{python.replace('.', '')}"
    # pip takes --platform literally: a glibc 2.28 host also runs the older manylinux wheels.
    for platform in MANYLINUX_2_28_X86_64:
        target += f" --platform {platform}"
    files = ["--report", str(report), "-r", str(requirements)]
    _run([sys.executable, "-m", "pip", *options.split(), *target.split(), "--index-url", PYPI, *files])
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }


def _resolve_with_uv(requirements: Path, python: str, output: Path) -> dict[str, str]:
    from uv import find_uv_bin

    target = f"--python-platform x86_64-manylinux_2_28 --python-version {python}"
    files = ["-o", str(output), str(requirements)]
    uv_compile = [find_uv_bin(), "pip", "compile", "--no-config", "--quiet", "--only-binary", ":all:"]
    _run([*uv_compile, *target.split(), "--index-url", PYPI, *files])
    pins: dict[str, str] = {}
    for line in output.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            url_version = requirement.url and parse_wheel_filename(unquote(requirement.url.rsplit("/", 1)[1]))[1]
            pins[canonicalize_name(requirement.name)] = str(url_version or next(iter(requirement.specifier)).version)
    return pins


def _run(command: list[str]) -> None:
    # PyPI alone, as a plain host sees it: no pip or uv configuration, local index or wheel folder.
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "UV_"))}
    environment["PIP_CONFIG_FILE"] = os.devnull
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize("python", CLOUD_PYTHONS)
def test_requirements_txt_resolves_on_pypi_without_cuda_packages(installer, python, tmp_path):
    """Community Cloud installs with uv, pip where uv fails: both resolve the file as Linux x86-64."""
    wheel = _cpu_wheel(python)
    if wheel is None:
        pytest.skip(
            f"PyTorch's CPU wheel for Python {python} is neither on this disk nor reachable "
            "(download.pytorch.org): what a plain host resolves with it is not checked here"
        )
    if not _reachable(f"{PYPI}/pip/", timeout=5):
        pytest.skip("PyPI cannot be reached from here")
    # The file as it is, but the wheel for this Python from where it was found; the other lines'
    # markers exclude this host, which is part of what is checked.
    url = torch_for(host("linux", "x86_64", python)).url
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8").replace(f"torch @ {url} ", f"torch @ {wheel} ")
    assert wheel in text
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(text, encoding="utf-8")
    resolve = _resolve_with_pip if installer == "pip" else _resolve_with_uv
    installed = resolve(requirements, python, tmp_path / "resolved")
    assert installed["torch"] == f"{torch_pin()}+cpu"
    assert [name for name in installed if _CUDA_PACKAGE.match(name)] == []
    optional_names = {canonicalize_name(name) for name in optional.REQUIREMENT_FILES}
    assert set(installed) & optional_names == set()
    assert installed["pillow"] == "13.0.0"  # a package PyTorch's index also hosts: PyPI's pin holds
    print(f"{installer}, Python {python}: {len(installed)} packages with PyTorch's CPU wheel, none for CUDA")


@pytest.mark.slow
@pytest.mark.parametrize("python", CLOUD_PYTHONS)
def test_with_pypis_torch_every_other_pin_has_wheels_and_cuda_comes_along(python, tmp_path):
    """Where PyTorch's page cannot be reached, PyPI's torch of the same release stands in: every other
    pin must still have a wheel for this Python, and the CUDA packages that come with PyPI's build
    are what the wheel URLs keep off Community Cloud (and what the test above would catch)."""
    if not _reachable(f"{PYPI}/pip/", timeout=5):
        pytest.skip("PyPI cannot be reached from here")
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = tmp_path / "requirements.txt"
    kept = [line for line in lines if not line.startswith("torch")]
    requirements.write_text("\n".join([*kept, f"torch=={torch_pin()}"]) + "\n", encoding="utf-8")
    installed = _resolve_with_uv(requirements, python, tmp_path / "resolved.txt")  # uv: metadata only, quick
    cuda = [name for name in installed if _CUDA_PACKAGE.match(name)]
    assert installed["torch"] == str(torch_pin())
    assert cuda, "PyPI's torch came without CUDA packages: the wheel URLs may no longer be needed"
    print(f"Python {python}: {len(installed)} packages with PyPI's torch, {len(cuda)} of them for CUDA")
