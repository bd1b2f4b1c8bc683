"""The event log: entries that concern the FO, signed tree heads, inclusion and consistency
proofs (`/v1/event-log`). Check what these return offline with `fcsbe.client.proofs`."""

from __future__ import annotations

from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import ConsistencyProof, EventLogEntry, InclusionProof, SignedTreeHead

__all__ = ["EventLogResource"]


class EventLogResource:
    """The append-only, hash-chained event log and its RFC 9162 Merkle-tree proofs."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("list_event_log")
    def list(
        self,
        *,
        after_seq: int = 0,
        fs_id: str | None = None,
        type: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[EventLogEntry]:
        """Iterate the chained entries that concern you, oldest first.

        Args:
            after_seq: Start after this sequence number (0: from the beginning).
            fs_id: Only entries of this flexibility service.
            type: Only entries of this event type (e.g. `FS_STATE_CHANGED`).
            page_size: Entries per request (server maximum 500).

        Returns:
            An async pager: `async for entry in client.event_log.list(): ...`.
        """
        params = {"after_seq": after_seq, "fs_id": fs_id, "type": type}
        return AsyncPager(self._t, "/v1/event-log", EventLogEntry, params, page_size)

    @operation("get_event_log_head")
    async def head(self, tree_size: int | None = None) -> SignedTreeHead:
        """Read the latest signed tree head, or the past head of exactly `tree_size` entries.

        Args:
            tree_size: A past head's size; None for the latest.

        Returns:
            The signed tree head; check it with `fcsbe.client.proofs.verify_tree_head`.

        Raises:
            NotFoundError: no head of that size was signed.
        """
        params = {"tree_size": tree_size}
        response = await self._t.request("GET", "/v1/event-log/head", params=params)
        return SignedTreeHead.model_validate_json(response.content)

    @operation("get_event_log_proof")
    async def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """Get the proof that entry `seq` is in the tree of `tree_size` entries.

        Args:
            seq: Sequence number of an entry you may read.
            tree_size: Size of a signed head (default: the latest head's).

        Returns:
            The audit path; check it with `fcsbe.client.proofs.verify_entry_inclusion`.

        Raises:
            NotFoundError: no such entry that concerns you.
            UnprocessableEntityError: `seq` or `tree_size` out of range.
        """
        params = {"seq": seq, "tree_size": tree_size}
        response = await self._t.request("GET", "/v1/event-log/proof", params=params)
        return InclusionProof.model_validate_json(response.content)

    @operation("get_event_log_proof")
    async def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """Get the proof that the log of `first` entries is a prefix of the log of `second`.

        Args:
            first: The older tree size (e.g. of a head you kept).
            second: The newer tree size (default: the latest head's).

        Returns:
            The proof; check it with `fcsbe.client.proofs.verify_heads_consistent`.
        """
        params = {"first": first, "second": second}
        response = await self._t.request("GET", "/v1/event-log/proof", params=params)
        return ConsistencyProof.model_validate_json(response.content)
