"""Serving framework to other programs: the MCP server over governed memory (`mcp_server`, which
imports the MCP SDK: load it only to serve) and the API keys that scope HTTP requests to one user
(`keys`). Nothing is imported here, so `framework --help` stays fast.
"""
