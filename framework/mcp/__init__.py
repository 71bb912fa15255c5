"""The MCP client: an agent's MCP servers become its tools, every call gated like a method's.

`MCPServer.stdio(...)` / `MCPServer.http(...)` declare a server (framework.mcp.servers, also from
YAML); `MCPTools.connect` starts them on the agent's background loop thread
(framework.mcp.client) and turns their tools into ToolSpecs named `<server>__<tool>`
(framework.mcp.tools). The `mcp` SDK is imported only when an agent declares a server.
"""

from framework.mcp.servers import MCPServer, load_servers
from framework.mcp.tools import MCPTools, tool_name, with_mcp_tools

__all__ = ["MCPServer", "MCPTools", "load_servers", "tool_name", "with_mcp_tools"]
