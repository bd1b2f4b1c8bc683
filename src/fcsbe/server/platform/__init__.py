"""Platform code every layer may use and that knows no domain: request context and observability,
Prometheus metrics and their hooks, and the in-memory rate limit.
"""
