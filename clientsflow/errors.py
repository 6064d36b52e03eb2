"""Domain errors: what a service refuses, in words a person can act on."""


class DomainError(Exception):
    """A refused operation. `str(error)` is shown to the user as is."""


class InvalidInput(DomainError):
    """The input cannot be used (bad email, no contact details, malformed payload)."""


class IllegalStageMove(DomainError):
    """The pipeline does not allow this move."""


class StageConflict(DomainError):
    """The lead changed since the caller looked at it."""
