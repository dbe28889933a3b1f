"""The merchant's order field definitions, one JSON document in `settings`."""

from .tx import Tx, to_json
from .types import Row


async def field_definitions(tx: Tx) -> list[Row]:
    value = await tx.value("SELECT value FROM settings WHERE key = 'order_fields'")
    return [] if value is None else tx.json(value)


async def replace_field_definitions(tx: Tx, fields: list[Row]) -> list[Row]:
    await tx.run(
        """INSERT INTO settings (key, value) VALUES ('order_fields', ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        to_json(fields),
    )
    tx.fields_changed()
    return fields
