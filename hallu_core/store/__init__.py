"""The workspace database: one SQLite file per workspace, its schema and migrations, the summary
tables its triggers keep, the records it holds (`types`), and confinement of paths users type.

May import: the standard library and `hallu_core.errors`; nothing else of Hallu's (every other room
builds on this one).
"""
