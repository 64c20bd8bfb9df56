"""The Streamlit side of DeepReplay Studio: session state, forms and players for app_pages/."""
