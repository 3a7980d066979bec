"""What every training kind's parameters share: the range table's shape, the checks that read
it, and ``KindParams``, the validating, saving and reading back that every kind's parameter
dataclass inherits.

Each kind keeps its own table of numeric parameters (``classifier.params.PARAM_RANGES``,
``chat.params.CHAT_PARAM_RANGES``): one line a parameter, with its bounds, its widget's step and
its default. The table is the parameter's one declaration: the kind's dataclass gets its field
from it, ``validate`` checks against it, and the studio's parameter form draws its input from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self

from backend.errors import InvalidInputError
from backend.i18n import _
from backend.jobs.submit import write_params_file
from backend.records import JsonRecord

MAX_TITLE_CHARS = 120


@dataclass(frozen=True)
class ParamRange:
    """One numeric parameter: its allowed values, the step of its input widget, and its default.

    ``low``, ``high`` and ``default`` have the field's type (int or float); ``step`` is None
    where the widget's own default step fits.
    """

    low: int | float
    high: int | float
    step: int | float | None = None
    default: int | float = field(kw_only=True)

    def __post_init__(self) -> None:
        # The field's type is read from the bounds, so a default of another type would change it.
        if not type(self.low) is type(self.high) is type(self.default):
            raise TypeError(f"bounds and default of differing types: {self}")


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


class KindParams(JsonRecord):
    """What a training kind's parameter dataclass inherits: one ``validate``, ``from_dict`` and
    ``save`` for every kind, read from the class's tables, so a new kind declares data and no
    checks of its own (bar ``check_own_fields`` where a field has a rule of its own).

    The dataclass has ``base_model``, ``title``, ``method`` and ``precision`` fields, and the
    numeric fields its ``ranges`` name.
    """

    # Per numeric field, its allowed values (the studio's form draws its inputs from this table).
    ranges: ClassVar[dict[str, ParamRange]]
    # The fields a stored parameter file must hold to be read back.
    required: ClassVar[tuple[str, ...]] = ("base_model",)
    # What the "no base model" refusal tells the user to do.
    base_model_hint: ClassVar[str]

    base_model: str
    title: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give the kind's dataclass a field for every parameter of its ``ranges`` table (typed and
        defaulted from it), after the fields it declares itself; runs before ``@dataclass`` reads
        the class."""
        super().__init_subclass__(**kwargs)
        annotations = cls.__dict__.get("__annotations__")
        if annotations is None:
            annotations = {}
            cls.__annotations__ = annotations
        for name, bounds in cls.__dict__.get("ranges", {}).items():
            annotations.setdefault(name, type(bounds.low).__name__)
            setattr(cls, name, bounds.default)

    def choices(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """``(what, value, allowed)`` for every field that takes one of a few words, checked in this order."""
        raise NotImplementedError

    def check_own_fields(self) -> None:
        """Refuse a field with a rule of its own (the kind overrides this); raises ``InvalidInputError``."""

    def validate(self) -> Self:
        """Return self when every field is in range.

        Raises:
            InvalidInputError: naming the first field that is wrong and what is allowed.
        """
        for what, value, allowed in self.choices():
            check_choice(what, value, allowed)
        if not self.base_model.strip():
            raise InvalidInputError(_("No base model chosen."), _(self.base_model_hint))
        check_title(self.title)
        self.check_own_fields()
        check_ranges(self, self.ranges)
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from JSON, ignoring unknown keys and casting numbers (tolerates older files).

        Not validated again: what is stored was validated once, when the job was submitted.
        """
        values = known_fields(cls, data)
        missing = [name for name in cls.required if name not in values]
        if missing:
            raise InvalidInputError(_("The stored parameters lack {names}.").format(names=", ".join(missing)))
        return cls(**values)

    def save(self, run_dir: Path) -> Path:
        """Write ``params.json`` into the run folder."""
        return write_params_file(self.to_dict(), run_dir)
