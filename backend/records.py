"""One JSON form for the backend's result dataclasses: their fields, then any derived values they name."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar


class JsonRecord:
    """Mixin for a dataclass whose JSON form is ``asdict`` of its fields plus the properties in ``json_properties``.

    Nested dataclasses become dicts the same way, so a result holding records needs no ``to_dict`` of its own.
    """

    # Derived values (properties) that the JSON form carries beside the fields, in this order.
    json_properties: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        record = asdict(self)  # type: ignore[call-overload]
        return {**record, **{name: getattr(self, name) for name in self.json_properties}}
