"""The few messages of SeaweedFS's `weed/pb/filer.proto` its filer publishes to Kafka, built in Python.

Only the fields the intake reads, with filer.proto's field numbers: protobuf skips the others.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "filer_pb"


def _message(
    name: str, fields: list[tuple[str, int, int, str | None]], *, label: int = _F.LABEL_OPTIONAL
) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name)
    for field_name, number, kind, type_name in fields:
        field = message.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = f".{_PACKAGE}.{type_name}"
    return message


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="ragstream_filer.proto", package=_PACKAGE, syntax="proto3")
    file.message_type.append(
        _message(
            "FuseAttributes",
            [
                ("file_size", 1, _F.TYPE_UINT64, None),
                ("mtime", 2, _F.TYPE_INT64, None),  # unix seconds
                ("crtime", 6, _F.TYPE_INT64, None),
                ("mime", 7, _F.TYPE_STRING, None),
                ("md5", 14, _F.TYPE_BYTES, None),
                ("mtime_ns", 19, _F.TYPE_INT32, None),  # the nanoseconds within `mtime`
            ],
        )
    )
    entry = _message(
        "Entry",
        [
            ("name", 1, _F.TYPE_STRING, None),
            ("is_directory", 2, _F.TYPE_BOOL, None),
            ("attributes", 4, _F.TYPE_MESSAGE, "FuseAttributes"),
        ],
    )
    chunks = entry.field.add(name="chunks", number=3, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED)
    chunks.type_name = f".{_PACKAGE}.FileChunk"
    extended_entry = _message(
        "ExtendedEntry", [("key", 1, _F.TYPE_STRING, None), ("value", 2, _F.TYPE_BYTES, None)]
    )
    extended_entry.options.map_entry = True
    entry.nested_type.append(extended_entry)
    extended = entry.field.add(name="extended", number=5, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED)
    extended.type_name = f".{_PACKAGE}.Entry.ExtendedEntry"
    file.message_type.append(entry)
    file.message_type.append(
        _message("FileChunk", [("file_id", 1, _F.TYPE_STRING, None), ("size", 3, _F.TYPE_UINT64, None)])
    )
    file.message_type.append(
        _message(
            "EventNotification",
            [
                ("old_entry", 1, _F.TYPE_MESSAGE, "Entry"),
                ("new_entry", 2, _F.TYPE_MESSAGE, "Entry"),
                ("delete_chunks", 3, _F.TYPE_BOOL, None),
                ("new_parent_path", 4, _F.TYPE_STRING, None),
                ("is_from_other_cluster", 5, _F.TYPE_BOOL, None),
            ],
        )
    )
    return file


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())


def _class(name: str) -> Any:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{name}"))


EventNotification: Any = _class("EventNotification")
Entry: Any = _class("Entry")
FuseAttributes: Any = _class("FuseAttributes")
