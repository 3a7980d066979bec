"""What every training kind's parameters share: the range table's shape, the checks that read
it, and reading a stored parameter file back.

Each kind keeps its own table of ranges (``classifier.params.PARAM_RANGES``,
``chat.params.CHAT_PARAM_RANGES``): the tables are data, and the parameter form on the studio
page is drawn from them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from backend.errors import InvalidInputError
from backend.i18n import _

MAX_TITLE_CHARS = 120


@dataclass(frozen=True)
class ParamRange:
    """The allowed values of one numeric parameter, and the step of its input widget.

    ``low`` and ``high`` have the field's type (int or float); ``step`` is None where the
    widget's own default step fits.
    """

    low: int | float
    high: int | float
    step: int | float | None = None


def check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise ``InvalidInputError`` naming ``what`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise InvalidInputError(
            _("Unknown {what} {value!r}.").format(what=what, value=value),
            _("Use one of {value}.").format(value=", ".join(allowed)),
        )


def check_title(title: str) -> None:
    """Raise ``InvalidInputError`` for a model title too long to show."""
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInputError(
            _("The model title is longer than {MAX_TITLE_CHARS} characters.").format(MAX_TITLE_CHARS=MAX_TITLE_CHARS),
            _("Shorten it."),
        )


def check_ranges(params: object, ranges: dict[str, ParamRange]) -> None:
    """Raise ``InvalidInputError`` for the first field of ``params`` outside its range in ``ranges``."""
    for name, bounds in ranges.items():
        low, high = bounds.low, bounds.high
        value = getattr(params, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise InvalidInputError(
                _("{name} must be between {low:g} and {high:g} (got {value!r}).").format(
                    name=name.replace("_", " ").capitalize(), low=low, high=high, value=value
                ),
            )


def known_fields(params_class: type, data: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of the dataclass ``params_class``, numbers and
    strings cast to the field's type; unknown keys are dropped so that older files still load.

    Raises:
        InvalidInputError: a value that cannot be cast.
    """
    known = {f.name: f for f in fields(params_class)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue
        kind = known[key].type
        try:
            if kind == "int":
                value = int(value)
            elif kind == "float":
                value = float(value)
            elif kind == "str":
                value = str(value)
        except (TypeError, ValueError) as error:
            raise InvalidInputError(
                _("Parameter {key} has an invalid value {value!r}.").format(key=key, value=value)
            ) from error
        values[key] = value
    return values
