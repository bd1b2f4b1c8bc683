"""Marks which server operation (OpenAPI `operationId`) a client method implements.

A contract test walks the client and the served OpenAPI and fails when an operation has no
client method, so the two halves cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["OPERATION_ATTR", "operation"]

OPERATION_ATTR = "__fcsbe_operation__"
F = TypeVar("F", bound=Callable[..., object])


def operation(operation_id: str) -> Callable[[F], F]:
    """Decorator: this method calls the server operation `operation_id`."""

    def mark(func: F) -> F:
        setattr(func, OPERATION_ATTR, operation_id)
        return func

    return mark
