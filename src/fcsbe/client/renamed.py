"""Old names of renamed client attributes, kept for one release.

A renamed namespace (named again like its server module) keeps answering under its old name,
with a `DeprecationWarning` that names the new one, on the async and the blocking client alike:
one descriptor, so both say it the same way.
"""

from __future__ import annotations

import warnings
from typing import Any, Generic, Self, TypeVar, overload

__all__ = ["RenamedAttribute"]

T = TypeVar("T")


class RenamedAttribute(Generic[T]):
    """A class attribute that gives the attribute `new_name` of the instance and warns that its
    own name is deprecated: `ev_user = RenamedAttribute[EvUserResource]("ev_users")`."""

    def __init__(self, new_name: str) -> None:
        self._new_name = new_name
        self._old_name = new_name
        self.__doc__ = f"Deprecated name of `{new_name}`; kept for one release."

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._old_name = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type[Any]) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any]) -> Self | T:
        if instance is None:
            return self
        cls = type(instance).__name__
        warnings.warn(
            f"{cls}.{self._old_name} is deprecated; use {cls}.{self._new_name}",
            DeprecationWarning,
            stacklevel=2,
        )
        value: T = getattr(instance, self._new_name)
        return value
