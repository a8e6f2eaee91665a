"""Conversations and their messages in Postgres."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from apps.common.database import Pool
from apps.query_api.prompt import Turn
from apps.query_api.text import storable
from schemas.api import Conversation, ConversationWithMessages, Message

_CONVERSATION_COLUMNS = "id, title, metadata, created_at, updated_at"
_MESSAGE_COLUMNS = "id, role, content, metadata, created_at"
# Recent history is read in one query; the token budget then trims it further.
_HISTORY_ROWS = 50


class ConversationStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(self, title: str | None, metadata: dict[str, Any] | None = None) -> Conversation:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO conversations (id, title, metadata) VALUES (%s, %s, %s)"
                f" RETURNING {_CONVERSATION_COLUMNS}",
                (uuid.uuid4(), storable(title), Jsonb(storable(metadata or {}))),
            )
            row = await cur.fetchone()
        return Conversation.model_validate(row)

    async def get(self, conversation_id: UUID) -> Conversation | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = %s", (conversation_id,)
            )
            row = await cur.fetchone()
        return Conversation.model_validate(row) if row else None

    async def get_with_messages(self, conversation_id: UUID) -> ConversationWithMessages | None:
        conversation = await self.get(conversation_id)
        if conversation is None:
            return None
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = %s ORDER BY created_at, id",
                (conversation_id,),
            )
            rows = await cur.fetchall()
        messages = [Message.model_validate(row) for row in rows]
        return ConversationWithMessages(**conversation.model_dump(), messages=messages)

    async def list_page(self, *, limit: int, offset: int) -> tuple[list[Conversation], int]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"
                " ORDER BY updated_at DESC, id LIMIT %s OFFSET %s",
                (limit, offset),
            )
            rows = await cur.fetchall()
            cur = await conn.execute("SELECT count(*) AS n FROM conversations")
            total = await cur.fetchone()
        return [Conversation.model_validate(r) for r in rows], int(total["n"]) if total else 0

    async def delete(self, conversation_id: UUID) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute("DELETE FROM conversations WHERE id = %s", (conversation_id,))
            return cur.rowcount > 0

    async def recent_turns(self, conversation_id: UUID) -> list[Turn]:
        """The conversation's latest messages, oldest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT role, content FROM (SELECT role, content, created_at, id FROM messages"
                " WHERE conversation_id = %s ORDER BY created_at DESC, id DESC LIMIT %s) recent"
                " ORDER BY created_at, id",
                (conversation_id, _HISTORY_ROWS),
            )
            rows = await cur.fetchall()
        return [Turn(role=row["role"], content=row["content"]) for row in rows]

    async def add_message(
        self, conversation_id: UUID, role: str, content: str, metadata: dict[str, Any] | None = None
    ) -> UUID:
        message_id = uuid.uuid4()
        async with self._pool.connection() as conn:
            # One statement: atomic without a transaction block, and one round trip instead of four.
            await conn.execute(
                "WITH added AS (INSERT INTO messages (id, conversation_id, role, content, metadata)"
                " VALUES (%s, %s, %s, %s, %s))"
                " UPDATE conversations SET updated_at = now() WHERE id = %s",
                (
                    message_id,
                    conversation_id,
                    role,
                    storable(content),
                    Jsonb(storable(metadata or {})),
                    conversation_id,
                ),
            )
        return message_id

    async def start(
        self, title: str | None, role: str, content: str, *, conversation_id: UUID | None = None
    ) -> tuple[UUID, UUID]:
        """A new conversation with its first message, in one statement; returns both ids."""
        conversation_id, message_id = conversation_id or uuid.uuid4(), uuid.uuid4()
        async with self._pool.connection() as conn:
            await conn.execute(
                "WITH started AS (INSERT INTO conversations (id, title, metadata) VALUES (%s, %s, %s)"
                " RETURNING id)"
                " INSERT INTO messages (id, conversation_id, role, content, metadata)"
                " SELECT %s, id, %s, %s, %s FROM started",
                (
                    conversation_id,
                    storable(title),
                    Jsonb({}),
                    message_id,
                    role,
                    storable(content),
                    Jsonb({}),
                ),
            )
        return conversation_id, message_id
