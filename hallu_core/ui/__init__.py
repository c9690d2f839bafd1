"""Small Streamlit helpers shared by the dashboard pages (imported only by pages and app.py)."""
