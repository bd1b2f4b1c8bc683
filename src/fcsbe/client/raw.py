"""Raw-response access: the `httpx.Response` behind a client call, with the parsed result.

Two spellings. `client.with_raw_response.<namespace>.<method>(...)` mirrors openai-python and
other well-kept API clients; `await client.raw_response(client.<namespace>.<method>(...))` does
the same for any call and keeps its static type (`RawResponse[FsAccepted]`, ...). Both collect
the responses of the requests the call makes (`capture_responses`), so headers such as
`x-request-id`, `location`, `link` or rate-limit headers are at hand without a second request.

List methods return pagers, which send their requests while you iterate; they have no raw
form (read `page.next_cursor` from `pager.pages()` instead).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from fcsbe.client.transport import capture_responses

__all__ = ["RawResponse", "RawResponseClient", "RawResponseNamespace", "with_raw"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RawResponse(Generic[T]):
    """A call's parsed result with the HTTP answer it came from."""

    http_response: httpx.Response
    """The last response the call received (most calls send one request)."""
    parsed: T
    """What the method returns normally (a model, a list of models, None)."""
    http_responses: tuple[httpx.Response, ...]
    """Every response of the call, in order (a helper may send several requests)."""

    @property
    def status_code(self) -> int:
        """The HTTP status of `http_response`."""
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The headers of `http_response`."""
        return self.http_response.headers

    def parse(self) -> T:
        """The parsed result (as openai-python's `LegacyAPIResponse.parse()`)."""
        return self.parsed


async def with_raw(call: Awaitable[T]) -> RawResponse[T]:
    """Await a client call and return its result with the responses it received.

    Raises what the call raises; an error answer is on the exception (`exc.response`).
    """
    with capture_responses() as captured:
        parsed = await call
    if not captured:
        raise ValueError("the call sent no request, so there is no raw response to show")
    return RawResponse(captured[-1], parsed, tuple(captured))


class RawResponseNamespace:
    """One namespace of `with_raw_response`: each async method returns a `RawResponse`."""

    def __init__(self, namespace: object, name: str) -> None:
        self._namespace = namespace
        self._name = name

    def __getattr__(self, attr: str) -> Callable[..., Awaitable[RawResponse[Any]]]:
        method = getattr(self._namespace, attr)
        if not inspect.iscoroutinefunction(method):
            raise AttributeError(
                f"{self._name}.{attr} is not an async call (a pager or a local helper): it has "
                "no raw form"
            )

        async def call(*args: Any, **kwargs: Any) -> RawResponse[Any]:
            return await with_raw(method(*args, **kwargs))

        call.__name__ = attr
        call.__doc__ = method.__doc__
        return call

    def __dir__(self) -> list[str]:
        return [
            name
            for name, member in inspect.getmembers(self._namespace, inspect.iscoroutinefunction)
            if not name.startswith("_")
        ]


class RawResponseClient:
    """`client.with_raw_response`: the client's namespaces, answering `RawResponse`s."""

    def __init__(self, client: object, namespaces: tuple[str, ...]) -> None:
        self._client = client
        self._namespaces = namespaces

    def __getattr__(self, name: str) -> RawResponseNamespace:
        if name not in self._namespaces:
            raise AttributeError(f"the client has no namespace {name!r}")
        return RawResponseNamespace(getattr(self._client, name), name)

    def __dir__(self) -> list[str]:
        return list(self._namespaces)
