"""Parsing and checking of every input: pure functions from raw JSON or query values
to typed values. Each failure raises `Invalid` with a message naming the field.

Every request field is declared once, in a `Form` of its subject's module (accounts,
orders, fields, webhooks; the shared value rules are in values.py): the checks and the
request schemas of openapi.py are both built from them, and `Form.parse` builds the
typed value a handler passes on."""
