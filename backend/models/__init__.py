"""Model runtime: catalogue, device choice, loading, memory-bounded cache, offline mirror."""
