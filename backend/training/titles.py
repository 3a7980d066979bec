"""The fine-tuning studio's stable words as people read them: a job's task and its training method.

Jobs store these words (``text``, ``chat``, ``fast``, ``lora``...) and widgets keep them as their
values; every screen, table and chart shows them through ``task_title`` and ``method_title``, so
each has one translated title.
"""

from __future__ import annotations

from backend.i18n import N_, _

# Keyed by the words themselves: the kinds' packages draw their figures from this package, so it
# cannot import them back. tests/backend/training/test_titles.py checks every kind's words are here.
JOB_TASK_TITLES: dict[str, str] = {
    "text": N_("text classifier"),
    "image": N_("image classifier"),
    "chat": N_("chat model"),
    "preference": N_("preference tuning"),
}
METHOD_TITLES: dict[str, str] = {
    "full": N_("full fine-tuning"),
    "fast": N_("fast mode"),
    "lora": N_("LoRA"),
}


def task_title(task: str) -> str:
    """A job's task in the current language (an unknown word as it is: a newer worker's kind)."""
    return _(JOB_TASK_TITLES[task]) if task in JOB_TASK_TITLES else task


def method_title(method: str) -> str:
    """A training method in the current language (an unknown word as it is)."""
    return _(METHOD_TITLES[method]) if method in METHOD_TITLES else method
