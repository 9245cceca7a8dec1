"""Items (Note, NoteOff, Control, Param) to and from plain JSON values.

A take must outlive the code that made it, so items are written by field
name, and an item type this module does not know is kept as its repr
rather than dropped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from liveai.core.events import Control, Item, Note, NoteOff, Param

KNOWN: dict[str, type] = {"Note": Note, "NoteOff": NoteOff, "Control": Control, "Param": Param}


def item_to_json(item: Any) -> dict[str, Any]:
    """{'type': 'Note', 'pitch': 60, ...}; unknown objects become {'type': name, 'repr': ...}."""
    name = type(item).__name__
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        fields = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
        if isinstance(item, Note):          # the sampler's per-note params: pairs -> [[name, value], ...]
            if item.params:
                fields["params"] = [[k, v] for k, v in item.params]
            else:
                del fields["params"]
            if item.sound is None:
                del fields["sound"]
        if all(isinstance(v, (int, float, str, bool, type(None))) or k == "params" for k, v in fields.items()):
            return {"type": name, **fields}
    return {"type": name, "repr": repr(item)}


class UnknownItem:
    """An item recorded by a type this version cannot rebuild; kept, not played."""

    __slots__ = ("type", "data")

    def __init__(self, type_name: str, data: dict[str, Any]) -> None:
        self.type = type_name
        self.data = data

    def __repr__(self) -> str:
        return f"UnknownItem({self.type!r}, {self.data!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnknownItem) and (self.type, self.data) == (other.type, other.data)


def item_from_json(data: dict[str, Any], *, strict: bool = False) -> Item | UnknownItem:
    """Rebuild an item written by item_to_json; anything else comes back as UnknownItem.

    With `strict`, a known type whose values are impossible (pitch 300, a
    NaN duration: damage, not a newer version) is a ValueError instead, so
    a take reader can skip and count it; unknown fields still give UnknownItem.
    """
    fields = dict(data)
    name = fields.pop("type", "?")
    cls = KNOWN.get(name)
    if cls is not None and "repr" not in fields:
        try:
            if cls is Note and "params" in fields:
                fields["params"] = tuple((str(k), float(v)) for k, v in fields["params"])
            return cls(**fields)
        except TypeError:
            pass
        except ValueError:
            if strict:
                raise
    return UnknownItem(str(name), fields)
