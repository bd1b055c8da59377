"""Leadflow's public event contracts: CloudEvents envelopes and the payloads on each topic.

This package is the only coupling between Leadflow's services and the contract that
other services subscribe to. Every type name ends in a major version (``.v1``); within
a version only additive, optional changes are made.
"""

from leadflow_events.envelope import CloudEvent, EVENT_CONTENT_TYPE
from leadflow_events.errors import ContractViolation, UnknownEventType
from leadflow_events.feedback import (
    HANDOVER_ASSIGNED_V1,
    HANDOVER_FEEDBACK_RECORDED_V1,
    HANDOVER_SLA_BREACHED_V1,
    AssignmentReason,
    FeedbackChannel,
    FeedbackDecision,
    HandoverAssigned,
    HandoverFeedbackRecorded,
    HandoverSlaBreached,
    RejectionReason,
)
from leadflow_events.privacy import LEAD_ERASED_V1, Consent, LeadErased, LegalBasis
from leadflow_events.records import KafkaRecord, decode_event, encode_event, parse_record, parse_stage_changed
from leadflow_events.stages import (
    LEAD_STAGE_CHANGED_V1,
    LeadSnapshot,
    LeadStageChanged,
    ModelVersion,
    ScoreReason,
    Scores,
    Stage,
    StageCause,
    StageCauseKind,
)
from leadflow_events.topics import HANDOVER_FEEDBACK_TOPIC, LEAD_STAGES_TOPIC, TOUCHPOINTS_TOPIC, dead_letter_topic
from leadflow_events.touchpoints import (
    TOUCHPOINT_RECORDED_V1,
    LeadIdentity,
    LeadProfile,
    TouchpointRecorded,
    TouchpointType,
)

__all__ = [
    "AssignmentReason",
    "Consent",
    "LEAD_ERASED_V1",
    "LeadErased",
    "LegalBasis",
    "CloudEvent",
    "ContractViolation",
    "EVENT_CONTENT_TYPE",
    "FeedbackChannel",
    "FeedbackDecision",
    "HANDOVER_ASSIGNED_V1",
    "HANDOVER_FEEDBACK_RECORDED_V1",
    "HANDOVER_FEEDBACK_TOPIC",
    "HANDOVER_SLA_BREACHED_V1",
    "HandoverAssigned",
    "HandoverFeedbackRecorded",
    "HandoverSlaBreached",
    "KafkaRecord",
    "LEAD_STAGES_TOPIC",
    "LEAD_STAGE_CHANGED_V1",
    "LeadIdentity",
    "LeadProfile",
    "LeadSnapshot",
    "LeadStageChanged",
    "ModelVersion",
    "RejectionReason",
    "ScoreReason",
    "Scores",
    "Stage",
    "StageCause",
    "StageCauseKind",
    "TOUCHPOINTS_TOPIC",
    "TOUCHPOINT_RECORDED_V1",
    "TouchpointRecorded",
    "TouchpointType",
    "UnknownEventType",
    "dead_letter_topic",
    "decode_event",
    "encode_event",
    "parse_record",
    "parse_stage_changed",
]
