"""The station registry (operator credential): `POST /admin/v1/stations/import`."""

from __future__ import annotations

from typing import Any

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import RegistryDocument, RegistryImportResult

__all__ = ["RegistryResource"]


class RegistryResource:
    """Loading sites, stations, EVSEs and EV models; needs the CSO's operator token."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("import_stations")
    async def import_stations(
        self,
        document: RegistryDocument | dict[str, Any],
        *,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> RegistryImportResult:
        """Import a registry document: all or nothing; importing it again changes nothing.

        Args:
            document: The document (a model, or the parsed YAML/JSON of a registry file).
            dry_run: Check everything and write nothing.
            idempotency_key: Reuse to retry safely (one is made if not given).

        Returns:
            What was created, updated and left unchanged.

        Raises:
            UnprocessableEntityError: the document was refused; `problem.errors` names every
                problem by JSON pointer, entry and field.
        """
        body = (
            document.model_dump(mode="json", exclude_none=True)
            if isinstance(document, RegistryDocument)
            else document
        )
        response = await self._t.request(
            "POST",
            "/admin/v1/stations/import",
            json=body,
            params={"dry_run": "true" if dry_run else None},
            idempotency_key=idempotency_key,
        )
        return RegistryImportResult.model_validate_json(response.content)
