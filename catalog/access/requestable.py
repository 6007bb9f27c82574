"""What an access request asks for and a grant opens: a dataset's contract, or a shared model's
terms (`catalog.ledger.models.ModelTerms`). Both are routed, decided and granted the same way;
only a contract has columns and rows to narrow."""

from __future__ import annotations

from typing import Protocol

from contracts.model import AccessLevel, Approval


class Requestable(Protocol):
    """Anything an agency may request: its id in the grants table, owner, sector, title,
    access level and approval terms (policy, longest period)."""

    @property
    def id(self) -> str:
        """The id its requests and grants carry (`model:<id>` for a model)."""
        ...

    @property
    def agency(self) -> str:
        """The owning agency."""
        ...

    @property
    def sector(self) -> str:
        """The sector it is shared in (whose secretariat may decide)."""
        ...

    @property
    def title(self) -> str:
        """Its title (Korean), named in notices."""
        ...

    @property
    def access(self) -> AccessLevel:
        """Its access level."""
        ...

    @property
    def approval(self) -> Approval:
        """Who decides its requests, and the longest period a grant runs."""
        ...
