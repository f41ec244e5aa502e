"""`search_documents`: full-text search over the documents given to this job, and hybrid
search over the owner's collections the job named; never over the owner's other jobs'
documents or other collections (an owner is often one service acting for many customers)."""

from __future__ import annotations

from activities.tools.registry import ToolContext, implements
from core.contracts.tools import SearchDocumentsArgs


@implements("search_documents")
async def search_documents(args: SearchDocumentsArgs, ctx: ToolContext) -> str:
    if not ctx.document_ids and not ctx.collections:
        return "no documents were given to this job"
    lines: list[str] = []
    if ctx.document_ids:
        hits = await ctx.documents.search(ctx.owner, args.query, args.limit, ctx.document_ids)
        lines += [f"{name}: {passage}" for name, passage in hits]
    if ctx.collections and ctx.search_collection is not None:
        for collection in ctx.collections:
            found = await ctx.search_collection(ctx.owner, collection, args.query, args.limit)
            lines += [f"{collection}/{hit.document}: {hit.text}" for hit in found]
    return "\n".join(lines) if lines else "no matching documents"
