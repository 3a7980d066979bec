"""Large Model Showcase backend: all logic, no Streamlit."""
