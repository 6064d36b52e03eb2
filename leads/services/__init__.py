"""Writes for leads. Import from the submodules: identity, stages, intake, merge."""
