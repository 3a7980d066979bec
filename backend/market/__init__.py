"""Market and adoption tables: loading, validation, column mapping, filtering and plotly figures.

Every number charted comes from a row with its own source (``data/market/*.csv`` or a user's
upload validated by :mod:`backend.market.schema`).
"""
