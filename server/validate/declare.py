"""The declaration of a request field, from which both its check and its OpenAPI schema
are built, so the two cannot disagree.

A `Field` is a name, a `Rule` (the JSON type and its limits, the message naming the
field), whether it is required and its value when absent. A `Form` is one operation's
body or query: its fields in the order they are checked (the first failure names its
field), and the typed value it builds. The rules of orderdesk's own values (IDs, image
URLs, order_extra, prices, ...) are in values.py; here are the generic parts and the
JSON Schema helpers openapi.py uses too.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from .. import texts
from ..errors import Invalid
from ..texts import Text

Schema = dict[str, Any]
T = TypeVar("T")


def string(low: int = 0, high: int | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if low:
        schema["minLength"] = low
    if high is not None:
        schema["maxLength"] = high
    return schema


def integer(**extra: Any) -> Schema:
    return {"type": "integer", **extra}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


class Rule(Protocol):
    """What a present (non-null) value must be: `parse` checks it and returns the typed
    value, raising `Invalid` naming the field; `schema` documents the same rule."""

    def parse(self, value: Any, name: str) -> Any: ...

    def schema(self) -> Schema: ...


def _length_rule(name: str, low: int, high: int) -> Invalid:
    if low == 0:
        return Invalid(texts.LENGTH_MAX, field=name, high=high)
    return Invalid(texts.LENGTH_RANGE, field=name, low=low, high=high)


@dataclass(frozen=True)
class Str:
    """A string of `low`-`high` characters (no upper limit if `high` is None), trimmed
    first unless `trim` is off; `pattern` (matched whole, after trimming) refuses with
    `pattern_message`; `prepare` runs before trimming (normalization, forbidden
    characters)."""

    low: int
    high: int | None
    trim: bool = True
    pattern: str | None = None
    pattern_message: Text | None = None
    prepare: Callable[[str, str], str] | None = None
    description: str = ""
    # Built once, with the declaration: nothing is compiled per request.
    _compiled: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = re.compile(self.pattern) if self.pattern else None
        object.__setattr__(self, "_compiled", compiled)

    def parse(self, value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise Invalid(texts.NOT_A_STRING, field=name)
        if self.prepare is not None:
            value = self.prepare(value, name)
        if self.trim:
            value = value.strip()
        if len(value) < self.low or (self.high is not None and len(value) > self.high):
            if self.low and not value:
                raise Invalid(texts.EMPTY, field=name)
            raise _length_rule(name, self.low, self.high or 0)
        if self._compiled is not None and not self._compiled.fullmatch(value):
            raise Invalid(self.pattern_message or texts.BAD_REQUEST, field=name)
        return value

    def schema(self) -> Schema:
        extra: Schema = {}
        if self.pattern:
            extra["pattern"] = f"^(?:{self.pattern})$"
        if self.description:
            extra["description"] = self.description
        return string(self.low, self.high, **extra)


@dataclass(frozen=True)
class Choice:
    """A string of `low`-`high` characters that must be one of `choices`."""

    choices: frozenset[str]
    length: Str

    def parse(self, value: Any, name: str) -> str:
        text = self.length.parse(value, name)
        if text not in self.choices:
            raise Invalid(texts.ONE_OF, field=name, choices=", ".join(sorted(self.choices)))
        return text

    def schema(self) -> Schema:
        return string(enum=sorted(self.choices))


@dataclass(frozen=True)
class Flag:
    """A JSON boolean."""

    description: str = ""

    def parse(self, value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            raise Invalid(texts.NOT_A_BOOLEAN, field=name)
        return value

    def schema(self) -> Schema:
        return {"type": "boolean"} | ({"description": self.description} if self.description else {})


@dataclass(frozen=True)
class Custom:
    """A rule written as a function (a whole-value check that is not per-field limits:
    order_extra, a price, the field definitions), with the schema that documents it."""

    check: Callable[[Any, str], Any]
    documented: Schema

    def parse(self, value: Any, name: str) -> Any:
        return self.check(value, name)

    def schema(self) -> Schema:
        return self.documented


@dataclass(frozen=True)
class Ignored:
    """Accepted for compatibility and never read."""

    description: str

    def parse(self, value: Any, name: str) -> None:
        return None

    def schema(self) -> Schema:
        return {"description": self.description}


@dataclass(frozen=True)
class Field:
    """One request field. Absent (or null, or "" when `empty_is_absent`) it is
    `default`, or refused with `missing` when required."""

    name: str
    rule: Rule
    required: bool = False
    missing: Text = texts.REQUIRED
    empty_is_absent: bool = False
    default: Any = None

    def read(self, source: Mapping[str, Any]) -> Any:
        value = source.get(self.name)
        if value is None or (self.empty_is_absent and value == ""):
            if self.required:
                raise Invalid(self.missing, field=self.name)
            return self.default
        return self.rule.parse(value, self.name)

    def schema(self) -> Schema:
        schema = self.rule.schema()
        if self.default is not None:
            schema = schema | {"default": self.default}
        if self.empty_is_absent:
            return {"description": '"" counts as not sent', "oneOf": [string(0, 0), schema]}
        return schema


@dataclass(frozen=True)
class Form(Generic[T]):
    """One operation's body (or query): its fields in the order they are checked, and
    `into`, what `parse` builds of their values (called with one keyword per field).
    `one_of_required` names fields of which at least one must be sent (login)."""

    fields: tuple[Field, ...]
    into: Callable[..., T]
    one_of_required: tuple[str, ...] = ()

    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def read(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """Every field's value (its default when absent), checked in order."""
        values = {}
        get = source.get
        for one in self.fields:
            # Most fields of a form are not sent: an optional one's default is taken
            # here, without a call to its read (a quarter of an update's parse).
            if not one.required and get(one.name) is None:
                values[one.name] = one.default
            else:
                values[one.name] = one.read(source)
        return values

    def parse(self, source: Mapping[str, Any]) -> T:
        return self.into(**self.read(source))

    def __getitem__(self, name: str) -> Field:
        return self.by_name[name]

    def schema(self) -> Schema:
        schema = obj(
            {one.name: one.schema() for one in self.fields},
            tuple(one.name for one in self.fields if one.required),
        )
        if self.one_of_required:
            schema["anyOf"] = [{"required": [name]} for name in self.one_of_required]
        return schema

    def parameters(self) -> list[dict[str, Any]]:
        """The form as OpenAPI query parameters."""
        return [
            {
                "name": one.name,
                "in": "query",
                "required": one.required,
                "schema": one.schema(),
            }
            for one in self.fields
        ]
