"""Tools an agent job may call. Importing this package registers every built-in tool."""

from activities.tools import calculator, documents, fetch_url, tickets
from activities.tools.registry import TOOLS, Tool, ToolContext, ToolError, tool

__all__ = [
    "TOOLS",
    "Tool",
    "ToolContext",
    "ToolError",
    "calculator",
    "documents",
    "fetch_url",
    "tickets",
    "tool",
]
