"""The MCP server: four tools over a `Desk`, each call as the principal `principal_of` finds
for it (the HTTP door's bearer, or the stdio command's token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

import gongyu
from api.mcp.desk import MAX_HITS, MAX_ROWS, Desk, ToolFailure, dumps
from catalog.access.principal import Principal

INSTRUCTIONS = (
    "Gongyu (공유): the data commons of Korea's public institutions. Find datasets with "
    "search_datasets (Korean or English words), read their schema with describe_dataset, and "
    "query them with run_sql (DuckDB SQL over <sector>.<table>; read-only). You act as the "
    "person whose token this is: personal columns come back masked (null) unless their agency "
    "holds a grant, and every call is audited."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

PrincipalOf = Callable[[Context[Any]], Principal]


def build_server(desk: Desk, principal_of: PrincipalOf) -> MCPServer[Any]:
    """An MCP server whose tools run on `desk` as `principal_of(ctx)`."""
    server: MCPServer[Any] = MCPServer(
        "gongyu", version=gongyu.__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    def answered(call: Callable[[Principal], Any], ctx: Context[Any]) -> str | CallToolResult:
        """The call's JSON answer, or its failure as an error result of the same JSON form."""
        try:
            return dumps(call(principal_of(ctx)))
        except ToolFailure as exc:
            return CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def search_datasets(
        ctx: Context[Any],
        query: Annotated[str, Field(max_length=500, description="Words, Korean or English.")],
        sector: Annotated[str | None, Field(description="Only this sector's (its id).")] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_HITS)] = 10,
    ) -> str | CallToolResult:
        """Search the datasets you may see (검색): id, title, agency, access level, freshness,
        whether you may query it (`readable`) and its SQL table name, best first."""
        return answered(lambda p: desk.search_datasets(p, query, sector, limit), ctx)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def describe_dataset(
        ctx: Context[Any], dataset_id: Annotated[str, Field(max_length=200)]
    ) -> str | CallToolResult:
        """One dataset (설명): its SQL table, columns with type and classification (and whether
        they are masked for you), access level, freshness, licence, how to request access."""
        return answered(lambda p: desk.describe_dataset(p, dataset_id), ctx)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def run_sql(
        ctx: Context[Any],
        sql: Annotated[str, Field(min_length=1, max_length=100_000)],
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 100,
    ) -> str | CallToolResult:
        """Run one read-only DuckDB SQL query (조회) over `<sector>.<table>` tables you may
        read; at most `limit` rows come back (`truncated` says when there were more)."""
        return answered(lambda p: desk.run_sql(p, sql, limit), ctx)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def my_access_requests(ctx: Context[Any]) -> str | CallToolResult:
        """Your agency's access requests (이용 신청) and those waiting for your decision."""
        return answered(desk.my_access_requests, ctx)

    return server
