"""Server paths as users may see them: relative to the models, runs or state folder, never absolute.

An absolute path tells a visitor how the host is laid out (user names, mount points, where the
secrets file sits). Messages, job logs and model cards name a folder by where it sits inside the
app's own folders instead: ``models/bert-tiny``, ``runs/20261201-ab12/model``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path, PurePath

from backend.config import Settings, get_settings


def _roots(settings: Settings) -> list[tuple[Path, str]]:
    # Most specific first: the runs folder lies inside the state folder.
    return [(settings.runs_dir, "runs"), (settings.models_dir, "models"), (settings.state_dir, "state")]


def shown_path(path: str | PurePath, settings: Settings | None = None) -> str:
    """``path`` relative to the runs, models or state folder (``runs/<job>/model``), else its name.

    Args:
        path: any path, absolute or relative, existing or not.
        settings: settings naming the folders.
    """
    settings = settings or get_settings()
    candidate = Path(path)
    forms = [candidate]
    if candidate.is_absolute():
        with contextlib.suppress(OSError, RuntimeError):  # a symlink loop: compare as written
            forms.append(candidate.resolve())
    for root, label in _roots(settings):
        for form in forms:
            for base in {root, root.resolve()}:
                try:
                    relative = form.relative_to(base)
                except ValueError:
                    continue
                return f"{label}/{relative.as_posix()}" if relative.parts else label
    return candidate.name if candidate.is_absolute() else candidate.as_posix()


def redact_paths(text: str, settings: Settings | None = None) -> str:
    """``text`` with every occurrence of the runs, models and state folders' absolute paths replaced.

    For text that quotes a path it did not build, such as a library's exception message.
    """
    settings = settings or get_settings()
    replacements: list[tuple[str, str]] = []
    for root, label in _roots(settings):
        for form in {str(root), str(root.resolve())}:
            replacements.append((form, label))
    # Longest first, so the runs folder is not half-replaced as the state folder.
    for absolute, label in sorted(replacements, key=lambda pair: len(pair[0]), reverse=True):
        text = text.replace(absolute, label)
    return text
