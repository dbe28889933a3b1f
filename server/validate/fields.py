"""The merchant's order field definitions, and the check of order_extra's values
against them."""

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from .. import model, texts
from ..errors import Invalid
from .declare import Custom, Field, Form, Str, string

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# One definition of the merchant's list; the value rules are in field_definitions.
DEFINITION: Form[dict[str, Any]] = Form(
    (
        Field("field_name", Str(*model.EXTRA_KEY_LEN), required=True),
        Field("type", Str(1, 16), required=True),
        Field("name", Str(0, model.TITLE_LEN[1], description="default: field_name")),
    ),
    dict,
)


def field_definitions(fields: Any, name: str = "fields") -> list[dict[str, Any]]:
    """The merchant's `{"fields": [...]}`: the whole list of order field definitions."""
    if not isinstance(fields, list):
        raise Invalid(texts.FIELDS_NOT_LIST)
    if len(fields) > model.EXTRA_MAX_KEYS:
        raise Invalid(texts.FIELDS_TOO_MANY, count=model.EXTRA_MAX_KEYS)
    definitions, names = [], set()
    for position, raw in enumerate(fields):
        where = f"fields[{position}]"
        if not isinstance(raw, dict):
            raise Invalid(texts.DEFINITION_NOT_OBJECT, where=where)
        field_name = DEFINITION["field_name"].read(raw)
        if field_name in names:
            raise Invalid(texts.DEFINITION_DUPLICATE, where=where, name=field_name)
        names.add(field_name)
        kind = DEFINITION["type"].read(raw)
        if kind not in model.FIELD_TYPES:
            raise Invalid(
                texts.DEFINITION_TYPE, where=where, choices=", ".join(sorted(model.FIELD_TYPES))
            )
        required = raw.get("required", False)
        if not isinstance(required, bool):
            raise Invalid(texts.DEFINITION_REQUIRED_FLAG, where=where)
        definitions.append(
            {
                "field_name": field_name,
                "name": DEFINITION["name"].read(raw) or field_name,
                "type": kind,
                "required": required,
                "options": _field_options(raw, kind, where),
            }
        )
    return definitions


def _field_options(raw: Mapping[str, Any], kind: str, where: str) -> list[str]:
    options = raw.get("options")
    if kind not in model.FIELD_TYPES_WITH_OPTIONS:
        return []
    if not isinstance(options, list) or not options:
        raise Invalid(texts.DEFINITION_OPTIONS, where=where, kind=kind)
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise Invalid(texts.DEFINITION_OPTION_EMPTY, where=where)
    cleaned = [o.strip() for o in options]
    if len(set(cleaned)) != len(cleaned):
        raise Invalid(texts.DEFINITION_OPTIONS_DISTINCT, where=where)
    return cleaned


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _check_field_value(definition: Mapping[str, Any], value: Any) -> None:
    name, kind, options = definition["field_name"], definition["type"], definition["options"]
    if kind in ("text", "textarea", "date", "select", "radio") and not isinstance(value, str):
        raise Invalid(texts.FIELD_VALUE_STRING, name=name)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise Invalid(texts.FIELD_VALUE_NUMBER, name=name)
    if kind in ("select", "radio") and value not in options:
        raise Invalid(texts.FIELD_VALUE_OPTION, name=name)
    if kind == "checkbox":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(texts.FIELD_VALUE_OPTION_LIST, name=name)
        if len(set(value)) != len(value) or not set(value) <= set(options):
            raise Invalid(texts.FIELD_VALUE_DISTINCT_OPTIONS, name=name)
    if kind == "date" and not _is_date(value):
        raise Invalid(texts.FIELD_VALUE_DATE, name=name)


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_extra_fields(
    extra: Mapping[str, Any], definitions: list[dict[str, Any]], *, creating: bool
) -> None:
    """Values of defined keys match their field's type; required fields are present
    and non-empty on create and are never removed or emptied by an update (the
    update's value is what the merge will store, so checking the patch suffices)."""
    for definition in definitions:
        name = definition["field_name"]
        present = name in extra
        value = extra.get(name)
        if definition["required"] and (creating or present) and _is_empty(value):
            raise Invalid(texts.FIELD_VALUE_REQUIRED, name=name)
        if value is not None:
            _check_field_value(definition, value)


DEFINITION_SCHEMA = DEFINITION.schema()
DEFINITION_SCHEMA["properties"] |= {
    "type": string(enum=sorted(model.FIELD_TYPES)),
    "required": {"type": "boolean"},
    "options": {
        "type": "array",
        "items": string(),
        "description": "for select, radio and checkbox: distinct, non-empty",
    },
}
REPLACE_FIELDS = Form(
    (
        Field(
            "fields",
            Custom(
                field_definitions,
                {
                    "type": "array",
                    "maxItems": model.EXTRA_MAX_KEYS,
                    "items": {"$ref": "#/components/schemas/FieldDefinitionInput"},
                },
            ),
            required=True,
            missing=texts.FIELDS_NOT_LIST,
        ),
    ),
    lambda fields: fields,
)
