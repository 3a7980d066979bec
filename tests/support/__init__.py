"""Helpers shared by the tests: tiny models built in code, a local hub, training data, polling,
and the live app the browser tests drive. Imported as ``tests.support.<module>``."""
