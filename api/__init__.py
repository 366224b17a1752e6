"""The query service (FastAPI): what community workers, stewards and departments read."""
