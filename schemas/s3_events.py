"""The AWS S3 event notification JSON, as S3 (through SQS), MinIO (through Kafka) and webhooks send it."""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Annotated, Literal

from annotated_types import Ge
from pydantic import BaseModel, ConfigDict, Field, Strict

from schemas.json_types import WHOLE_NUMBER


class _AwsModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class S3Bucket(_AwsModel):
    name: str = Field(min_length=1)


class S3Object(_AwsModel):
    key: str = Field(min_length=1, description="URL-encoded object key, as S3 sends it")
    size: Annotated[int, Strict(), Ge(0), WHOLE_NUMBER] | None = None
    e_tag: str | None = Field(default=None, alias="eTag")
    version_id: str | None = Field(default=None, alias="versionId")
    sequencer: str | None = None


class S3Entity(_AwsModel):
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(_AwsModel):
    event_name: str = Field(alias="eventName", examples=["ObjectCreated:Put"])
    event_time: datetime | None = Field(default=None, alias="eventTime")
    s3: S3Entity


class S3EventNotification(_AwsModel):
    """One notification: S3 batches one or more records per message."""

    records: list[S3EventRecord] = Field(alias="Records", min_length=1)


class S3ObjectChange(BaseModel):
    """One normalised record: which version of which object was created or removed."""

    bucket: str
    key: str = Field(description="decoded object key")
    kind: Literal["created", "removed"]
    event_name: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    event_time: datetime | None = None

    @property
    def filename(self) -> str:
        """The key's last path segment (the whole key if it ends in a slash)."""
        return PurePosixPath(self.key).name or self.key

    @property
    def order(self) -> str | None:
        """Where this change falls among its key's changes: S3's sequencer (ordered per key), else,
        from endpoints that send none (moto), the event's time; prefixed, as the two never compare."""
        if self.sequencer:
            return f"s:{self.sequencer.upper()}"
        if self.event_time:
            return f"t:{round(self.event_time.timestamp() * 1_000_000):016X}"
        return None

    @property
    def version(self) -> str:
        """The object version this change is about: S3's versionId, else the eTag, else the sequencer.

        A removal is a version of its own (`deleted:...`): it must not share the workflow id of
        the creation it undoes, and two removals of the same key at different times differ.
        """
        if self.kind == "removed":
            when = self.event_time.isoformat() if self.event_time else None
            return f"deleted:{self.version_id or self.sequencer or when or self.etag or 'unversioned'}"
        return self.version_id or self.etag or self.sequencer or "unversioned"
