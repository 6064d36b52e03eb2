"""Operator tools that run beside the app (`python -m tools.soak`)."""
