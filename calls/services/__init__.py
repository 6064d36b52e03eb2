"""Writes for calls, one module per concern: ingest, matching, suggestions, notion_sync, alerts, routing."""
