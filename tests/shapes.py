"""Every answer the tests get is checked against the OpenAPI document: its envelope and
`data` must match the operation's declared success (or failure) schema, which lists
exactly the keys each entity holds. A key answered but not declared fails the test
that received it."""

import functools
from typing import Any

import jsonschema
from orderdesk import openapi

Validator = jsonschema.Draft202012Validator


def _compiled(schema: dict[str, Any]) -> Validator:
    return Validator({**schema, "components": {"schemas": openapi.COMPONENTS}})


@functools.cache
def _validators(method: str, path: str) -> tuple[Validator, Validator] | None:
    """The operation's success and failure validators; None for an undescribed path."""
    operation = openapi.OPERATIONS.get((method, path))
    if operation is None:
        return None
    return _compiled(operation.success()), _compiled(openapi.FAILURE)


def assert_declared_shape(method: str, path: str, body: Any) -> None:
    """The answer matches what the document declares for this operation (nothing is
    checked for a path the document does not describe)."""
    validators = _validators(method.upper(), path.split("?", 1)[0])
    if validators is None:
        return
    success, failure = validators
    validator = success if isinstance(body, dict) and body.get("code") == 0 else failure
    errors = [
        f"{'/'.join(map(str, error.absolute_path)) or 'the answer'}: {error.message}"
        for error in validator.iter_errors(body)
    ]
    assert not errors, f"{method} {path} answered outside its declared shape: " + "; ".join(
        errors[:3]
    )
