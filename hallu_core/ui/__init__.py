"""Streamlit helpers shared by the dashboard pages: data access with caching, widgets, forms, charts.

The only room of the core that imports Streamlit. May import every room but `cli`; only pages and
app.py import it.
"""
