"""The operator's console, `/admin`: people and service accounts, tokens, grants, the audit
log, deliveries across agencies and the settings in force, for operators only. Its forms post
with the session's CSRF token, and every page read and every act is an audit record."""

from __future__ import annotations

from fastapi import APIRouter

from api.admin import access, people, records, settings

router = APIRouter(include_in_schema=False)
for _module in (records, people, access, settings):
    router.include_router(_module.router, prefix="/admin")
