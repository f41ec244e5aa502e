"""`search_documents`: full-text search over the documents given to this job, never over the
owner's other jobs' (an owner is often one service acting for many customers)."""

from __future__ import annotations

from activities.tools.registry import ToolContext, implements
from core.contracts.tools import SearchDocumentsArgs


@implements("search_documents")
async def search_documents(args: SearchDocumentsArgs, ctx: ToolContext) -> str:
    if not ctx.document_ids:
        return "no documents were given to this job"
    hits = await ctx.documents.search(ctx.owner, args.query, args.limit, ctx.document_ids)
    if not hits:
        return "no matching documents"
    return "\n".join(f"{name}: {passage}" for name, passage in hits)
