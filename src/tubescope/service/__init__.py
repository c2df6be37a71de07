"""The REST API and web dashboard (FastAPI): one router per resource, errors mapped in one table."""
