"""CloudEvents 1.0 envelope in structured JSON mode."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EVENT_CONTENT_TYPE = "application/cloudevents+json"
DataT = TypeVar("DataT", bound=BaseModel)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event; ``source`` + ``id`` identify it, repeats are duplicates."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, description="Unique per event; consumers dedupe on it.")
    source: str = Field(min_length=1, description="URI reference of the producing context.")
    type: str = Field(min_length=1, description="Event type, ending in a major version (.v1).")
    time: AwareDatetime = Field(description="When the occurrence happened (RFC 3339).")
    subject: str | None = Field(default=None, description="The lead the event is about.")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    traceparent: str | None = Field(
        default=None, description="W3C trace context (CloudEvents distributed tracing extension)."
    )
    data: DataT

    @property
    def occurred_at(self) -> datetime:
        return self.time
