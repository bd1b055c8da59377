"""Why a Kafka record could not be read as a Leadflow event.

    ContractViolation          the record is not a valid event (bad JSON, missing or wrong fields)
      +-- UnknownEventType     the envelope is valid but its ``type`` is not one this package knows

Both are permanent: retrying the same bytes gives the same answer, so consumers
dead-letter such records instead of retrying them.
"""


class ContractViolation(ValueError):
    """The record does not satisfy the event contract."""


class UnknownEventType(ContractViolation):
    """The event type (or its major version) is not known to this package."""
