"""What the dashboard shows, as plain data: read-side queries, the generation list, Compare's pairs,
who judges a rate, findings in words, and pure HTML rendering (no Streamlit here).

May import: `store`, `data`, `modeling`, `detection`, `labeling`.
"""
