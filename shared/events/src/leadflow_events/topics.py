"""Topic names of the public contract."""

TOUCHPOINTS_TOPIC = "leadflow.touchpoints"
LEAD_STAGES_TOPIC = "leadflow.lead-stages"
HANDOVER_FEEDBACK_TOPIC = "leadflow.handover-feedback"


def dead_letter_topic(topic: str) -> str:
    """Records that can never be processed are parked beside their topic."""
    return f"{topic}.dlq"
