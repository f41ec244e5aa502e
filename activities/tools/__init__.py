"""The code behind the agent tools. Importing this package registers every built-in tool."""

from activities.tools import calculator, documents, fetch_url, tickets
from activities.tools.registry import TOOLS, Tool, ToolContext, ToolError, implements

__all__ = [
    "TOOLS",
    "Tool",
    "ToolContext",
    "ToolError",
    "calculator",
    "documents",
    "fetch_url",
    "implements",
    "tickets",
]
