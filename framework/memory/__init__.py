"""The four memory layers and their owner.

manager.MemoryManager   the only thing the loop talks to about memory
context                 L1 context window (token budget, folding into a rolling summary)
working/                L2 working memory (session task state with a TTL: diskcache, Redis)
longterm/               L3 long-term memory (store, hybrid search, lifecycle, database backends)
procedural/             L4 procedural memory (skills and policies in YAML)
governance/             write policy, extraction, curation, approvals
recollection, operations  what memory gives a turn, and what it did in one
"""
