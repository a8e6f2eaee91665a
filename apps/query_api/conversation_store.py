"""One caller's conversations and their messages in Postgres: every statement is bound to the
owner, a tenant's user, so no one else's conversation can be listed, read, continued or deleted."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from apps.common.database import Pool
from apps.common.identity import Identity
from apps.query_api.prompt import Turn
from apps.query_api.text import storable
from schemas.api import Conversation, ConversationWithMessages, Message

_CONVERSATION_COLUMNS = "id, title, metadata, created_at, updated_at"
_MESSAGE_COLUMNS = "id, role, content, metadata, created_at"
# Recent history is read in one query; the token budget then trims it further.
_HISTORY_ROWS = 50


# The owner's conversations; statements name their parameters, the owner's among them.
_OWNED = "tenant_id = %(tenant)s AND user_id = %(user)s"


class ConversationStore:
    def __init__(self, pool: Pool, owner: Identity) -> None:
        self._pool = pool
        self._owner = {"tenant": owner.tenant, "user": owner.user}

    async def create(self, title: str | None, metadata: dict[str, Any] | None = None) -> Conversation:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO conversations (id, title, metadata, tenant_id, user_id)"
                " VALUES (%(id)s, %(title)s, %(metadata)s, %(tenant)s, %(user)s)"
                f" RETURNING {_CONVERSATION_COLUMNS}",
                self._owner
                | {"id": uuid.uuid4(), "title": storable(title), "metadata": Jsonb(storable(metadata or {}))},
            )
            row = await cur.fetchone()
        return Conversation.model_validate(row)

    async def get(self, conversation_id: UUID) -> Conversation | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = %(id)s AND {_OWNED}",
                self._owner | {"id": conversation_id},
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
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE {_OWNED}"
                " ORDER BY updated_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
                self._owner | {"limit": limit, "offset": offset},
            )
            rows = await cur.fetchall()
            cur = await conn.execute(f"SELECT count(*) AS n FROM conversations WHERE {_OWNED}", self._owner)
            total = await cur.fetchone()
        return [Conversation.model_validate(r) for r in rows], int(total["n"]) if total else 0

    async def delete(self, conversation_id: UUID) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                f"DELETE FROM conversations WHERE id = %(id)s AND {_OWNED}",
                self._owner | {"id": conversation_id},
            )
            return cur.rowcount > 0

    async def recent_turns(self, conversation_id: UUID) -> list[Turn]:
        """The conversation's latest messages, oldest first."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT role, content FROM (SELECT m.role, m.content, m.created_at, m.id FROM messages m"
                f" JOIN conversations c ON c.id = m.conversation_id WHERE c.id = %(id)s AND {_OWNED}"
                " ORDER BY m.created_at DESC, m.id DESC LIMIT %(rows)s) recent ORDER BY created_at, id",
                self._owner | {"id": conversation_id, "rows": _HISTORY_ROWS},
            )
            rows = await cur.fetchall()
        return [Turn(role=row["role"], content=row["content"]) for row in rows]

    async def add_message(
        self, conversation_id: UUID, role: str, content: str, metadata: dict[str, Any] | None = None
    ) -> UUID | None:
        """Add a message to one of the owner's conversations; None if it has no such conversation."""
        message_id = uuid.uuid4()
        async with self._pool.connection() as conn:
            # One statement: atomic without a transaction block, and one round trip instead of four.
            cur = await conn.execute(
                f"WITH owned AS (UPDATE conversations SET updated_at = now() WHERE id = %(id)s AND {_OWNED}"
                " RETURNING id)"
                " INSERT INTO messages (id, conversation_id, role, content, metadata)"
                " SELECT %(message)s, id, %(role)s, %(content)s, %(metadata)s FROM owned",
                self._owner
                | {
                    "id": conversation_id,
                    "message": message_id,
                    "role": role,
                    "content": storable(content),
                    "metadata": Jsonb(storable(metadata or {})),
                },
            )
            return message_id if cur.rowcount > 0 else None

    async def start(
        self, title: str | None, role: str, content: str, *, conversation_id: UUID | None = None
    ) -> tuple[UUID, UUID]:
        """A new conversation of the owner's with its first message, in one statement; returns both ids."""
        conversation_id, message_id = conversation_id or uuid.uuid4(), uuid.uuid4()
        async with self._pool.connection() as conn:
            await conn.execute(
                "WITH started AS (INSERT INTO conversations (id, title, metadata, tenant_id, user_id)"
                " VALUES (%(id)s, %(title)s, %(no_metadata)s, %(tenant)s, %(user)s) RETURNING id)"
                " INSERT INTO messages (id, conversation_id, role, content, metadata)"
                " SELECT %(message)s, id, %(role)s, %(content)s, %(no_metadata)s FROM started",
                self._owner
                | {
                    "id": conversation_id,
                    "title": storable(title),
                    "no_metadata": Jsonb({}),
                    "message": message_id,
                    "role": role,
                    "content": storable(content),
                },
            )
        return conversation_id, message_id
