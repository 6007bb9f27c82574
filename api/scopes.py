"""What each route needs of a scoped token: one table for every route that changes something.

A route that only reads (GET, HEAD) needs `read`. A route that changes something needs the scope
this table names for it, and one it does not name needs `deliver`: a route added without a
decision here is never open to a read-only token by accident (tests/api/test_scopes.py lists
every such route of the app and checks it is decided). Sessions and tokens without scopes may
do all their role allows.
"""

from __future__ import annotations

from fastapi import Request

from catalog.access.principal import Scope

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# (method, route path) → scope, for the routes that change something but need less than
# `deliver`; `None` for the ones open to every credential (signing out).
CHANGING: dict[tuple[str, str], Scope | None] = {
    # Queries: a statement is posted, nothing is changed.
    ("POST", "/api/v1/sql"): Scope.read,
    ("POST", "/v1/statement"): Scope.read,
    ("DELETE", "/v1/statement/executing/{query_id}/{slug}/{token}"): Scope.read,
    ("POST", "/api/3/action/{action}"): Scope.read,
    ("POST", "/api/action/{action}"): Scope.read,
    # AI assistants' tools (MCP): every call only reads (api.mcp; its door checks `read`).
    ("POST", "/mcp"): Scope.read,
    ("DELETE", "/mcp"): Scope.read,
    # Asking for access, and the asker's own follow-ups.
    ("POST", "/api/v1/access-requests"): Scope.read,
    ("POST", "/api/v1/access-requests/{request_id}/withdraw"): Scope.read,
    ("POST", "/api/v1/access-requests/{request_id}/renew"): Scope.read,
    ("POST", "/datasets/{dataset_id}/request"): Scope.read,
    ("POST", "/models/{model_id}/request"): Scope.read,
    ("POST", "/requests/{request_id}/withdraw"): Scope.read,
    ("POST", "/requests/{request_id}/renew"): Scope.read,
    # Deciding: on another agency's access, on a contract submitted for review.
    ("POST", "/api/v1/access-requests/{request_id}/approve"): Scope.decide,
    ("POST", "/api/v1/access-requests/{request_id}/deny"): Scope.decide,
    ("POST", "/api/v1/access-requests/{request_id}/revoke"): Scope.decide,
    ("POST", "/api/v1/models/{model_id}/grants"): Scope.decide,
    ("POST", "/requests/{request_id}/approve"): Scope.decide,
    ("POST", "/requests/{request_id}/deny"): Scope.decide,
    ("POST", "/requests/{request_id}/revoke"): Scope.decide,
    ("POST", "/api/v1/contracts/{dataset}/versions/{version}/approve"): Scope.decide,
    ("POST", "/api/v1/contracts/{dataset}/versions/{version}/reject"): Scope.decide,
    ("POST", "/contracts/{dataset}/versions/{version}/approve"): Scope.decide,
    ("POST", "/contracts/{dataset}/versions/{version}/reject"): Scope.decide,
    # The operator's console: acts on others' accounts, tokens and grants.
    ("POST", "/admin/people"): Scope.decide,
    ("POST", "/admin/people/{person_id}/disable"): Scope.decide,
    ("POST", "/admin/people/{person_id}/enable"): Scope.decide,
    ("POST", "/admin/people/{person_id}/reset-mfa"): Scope.decide,
    ("POST", "/admin/people/{person_id}/roles"): Scope.decide,
    ("POST", "/admin/people/{person_id}/tokens"): Scope.decide,
    ("POST", "/admin/tokens/{key_id}/revoke"): Scope.decide,
    ("POST", "/admin/grants/{grant_id}/revoke"): Scope.decide,
    # One's own session and account (the pages take these from a password or SSO sign-in only:
    # a token's session cannot enrol a factor, change a password or make tokens).
    ("POST", "/signout"): None,
    ("POST", "/account/role"): None,
    ("POST", "/account/password"): None,
    ("POST", "/account/mfa/begin"): None,
    ("POST", "/account/mfa/confirm"): None,
    ("POST", "/account/tokens"): None,
    ("POST", "/account/tokens/{key_id}/revoke"): None,
}


def route_path(request: Request) -> str:
    """The path template of the route serving the request (its own path when unrouted)."""
    route = request.scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or request.url.path


def required_scope(request: Request) -> Scope | None:
    """The scope a credential needs for this request; None when any credential will do."""
    if request.method in READ_METHODS:
        return Scope.read
    return CHANGING.get((request.method, route_path(request)), Scope.deliver)
