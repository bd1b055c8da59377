"""Why a Kafka record could not be read as a Leadflow event.

    ContractViolation          the record is not a valid event (bad JSON, missing or wrong fields)
      +-- UnknownEventType     the envelope is valid but its ``type`` is not one this package knows

Both are permanent: retrying the same bytes gives the same answer, so consumers
dead-letter such records instead of retrying them.
"""


class ContractViolation(ValueError):
    """The record does not satisfy the event contract."""


class UnknownEventType(ContractViolation):
    """The event type (or its major version) is not known to this package.

    ``event_type`` is the record's ``type`` (None when it had none); ``newer_version`` is
    True when it is a newer major version of a type this package knows, i.e. upgrading
    ``leadflow-events`` would let the consumer read it.
    """

    def __init__(self, message: str, *, event_type: str | None = None, newer_version: bool = False) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.newer_version = newer_version
