"""A door for AI assistants: a Model Context Protocol server whose tools search the catalog,
describe a dataset, run SQL and list access requests as the token's person, under the SQL
API's policy, limits and audit (`http` at `/mcp`, `stdio` for `gongyu mcp`; docs/mcp.md)."""
