"""OpenTelemetry tracing: one trace per document, from its S3 event through the workflow and every
Kafka hop into Qdrant, and one per question.

The trace context crosses Kafka in W3C `traceparent` headers, injected by `publish_event` and
extracted by each stage per message — per message even in the embed stage's batches, so a
document's trace does not end where batching starts. Temporal carries it by its own tracing
interceptor. Spans are exported over OTLP when an endpoint is configured; without one the
tracer is OpenTelemetry's no-op and costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

tracer = trace.get_tracer("ragstream")
_PROPAGATOR = TraceContextTextMapPropagator()


def configure_tracing(service_name: str, otlp_endpoint: str | None) -> None:
    """Export spans over OTLP/HTTP to `otlp_endpoint` (e.g. a collector's http://host:4318/v1/traces)."""
    if not otlp_endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)


def inject(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the current trace context added, for a message about to be published."""
    _PROPAGATOR.inject(headers)
    return headers


def extracted(headers: Mapping[str, str] | None) -> Context:
    return _PROPAGATOR.extract(dict(headers or {}))


@contextlib.contextmanager
def consuming(
    name: str, headers: Mapping[str, str] | None, *, links: list[Link] | None = None
) -> Iterator[Span]:
    """A consumer span, child of the trace the message was published in, current while it runs."""
    with tracer.start_as_current_span(
        name, context=extracted(headers), kind=SpanKind.CONSUMER, links=links
    ) as span:
        yield span
