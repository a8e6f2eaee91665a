"""`ensure_topics` creates what the apps read on a broker that creates no topic itself: the pipeline's
topics, their dead-letter topics and the SeaweedFS filer's topic when the intake reads one."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.common.kafka import admin_client, ensure_topics, topic_names
from apps.devstack.stack import LocalStack
from tests.support import isolated_settings

pytestmark = pytest.mark.integration


async def test_ensure_topics_creates_the_pipelines_topics_and_the_filer_topic(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    settings = await isolated_settings(local_stack, tmp_path)
    settings = settings.model_copy(update={"s3_events_filer_topic": f"{settings.kafka_topic_prefix}filer"})
    await ensure_topics(settings)
    await ensure_topics(settings)  # again: what exists is left as it is
    async with admin_client(settings) as admin:
        existing = set(await admin.list_topics())
    wanted = {*topic_names(settings), settings.s3_events_filer_topic}
    assert wanted <= existing, sorted(wanted - existing)
