"""`POST /v1/s3/events`: S3 event notifications by webhook, into the same intake as SQS and Kafka."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from apps.common.intake import start_uploads
from apps.common.s3_events import object_changes
from apps.query_api.requests import read_model
from schemas.api import S3EventsAccepted
from schemas.s3_events import S3EventNotification


async def receive_s3_events(request: Request) -> Response:
    notification = await read_model(request, S3EventNotification)
    temporal = await request.app.state.temporal()
    started = await start_uploads(temporal, request.app.state.settings, object_changes(notification))
    accepted = S3EventsAccepted(
        workflows=[s.workflow_id for s in started], duplicates=sum(1 for s in started if s.duplicate)
    )
    return JSONResponse(accepted.model_dump(), status_code=202)
