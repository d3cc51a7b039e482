-- Conversations, members, messages, reactions, blocks and the event stream.
--
-- Everything hot is keyed by conversation_id first, so the data can later be
-- sharded by conversation (Citus: distribute by conversation_id).
--
-- The event stream: every change a client must learn about is a row in `events`
-- with a position `pos` taken from the single row of `event_counter`. The
-- UPDATE that takes positions holds that row's lock until commit, so positions
-- are gap-free and become visible in commit order: a reader at cursor P never
-- later finds a committed event below P. (A bigserial would not do: ids are
-- handed out at insert time, not commit time.) Lock order for every writer:
-- conversation rows (by id), then event_counter.

ALTER TABLE users
    ADD COLUMN dm_policy text NOT NULL DEFAULT 'anyone'
        CHECK (dm_policy IN ('anyone', 'groups', 'nobody'));

CREATE TABLE conversations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('direct', 'group')),
    title           text CHECK (title IS NULL OR char_length(title) BETWEEN 1 AND 128),
    created_by      bigint NOT NULL REFERENCES users (id),
    -- "<smaller user id>:<larger user id>" for direct conversations: one per pair.
    direct_key      text UNIQUE,
    last_seq        bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

-- state: active (a full member), request (a direct conversation from someone the
-- user shares nothing with, not yet accepted), declined (a request the user turned
-- down: gone for them), left (left or removed).
CREATE TABLE members (
    conversation_id    bigint NOT NULL REFERENCES conversations (id),
    user_id            bigint NOT NULL REFERENCES users (id),
    role               text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    state              text NOT NULL DEFAULT 'active'
                       CHECK (state IN ('active', 'request', 'declined', 'left')),
    joined_at          timestamptz NOT NULL DEFAULT now(),
    left_at            timestamptz,
    -- Messages with seq > joined_seq are visible to this member (no history
    -- from before one joined, as in WhatsApp).
    joined_seq         bigint NOT NULL DEFAULT 0,
    last_read_seq      bigint NOT NULL DEFAULT 0,
    last_delivered_seq bigint NOT NULL DEFAULT 0,
    muted_until        timestamptz,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id, conversation_id) WHERE state IN ('active', 'request');

-- Which stretches of the event stream each user may see, per conversation:
-- from the event that let them in to the event that let them out (inclusive,
-- so a removed member learns of the removal). Replays and the events endpoint
-- read through this, so nobody sees events from before they joined or after
-- they left.
CREATE TABLE member_spans (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    from_pos        bigint NOT NULL,
    to_pos          bigint,
    -- Events about messages at or below this seq stay hidden (sent before one joined).
    min_seq         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, conversation_id, from_pos)
);

CREATE TABLE messages (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    seq             bigint NOT NULL,
    sender_id       bigint NOT NULL REFERENCES users (id),
    client_msg_id   uuid NOT NULL,
    body            text CHECK (body IS NULL OR char_length(body) BETWEEN 1 AND 4000),
    reply_to_seq    bigint,
    media_ids       bigint[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    edited_at       timestamptz,
    deleted_at      timestamptz,
    PRIMARY KEY (conversation_id, seq),
    -- Idempotent sends: a retry of the same client message id finds the first.
    UNIQUE (conversation_id, sender_id, client_msg_id)
);

CREATE TABLE reactions (
    conversation_id bigint NOT NULL,
    seq             bigint NOT NULL,
    user_id         bigint NOT NULL REFERENCES users (id),
    emoji           text NOT NULL CHECK (octet_length(emoji) BETWEEN 1 AND 64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, seq, user_id, emoji),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
);

CREATE TABLE blocks (
    blocker_id bigint NOT NULL REFERENCES users (id),
    blocked_id bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

CREATE TABLE event_counter (
    id  integer PRIMARY KEY CHECK (id = 1),
    pos bigint NOT NULL
);
INSERT INTO event_counter VALUES (1, 0);

CREATE TABLE events (
    pos             bigint PRIMARY KEY,
    conversation_id bigint NOT NULL,
    type            text NOT NULL,
    actor_id        bigint,
    seq             bigint,          -- the message an event is about, if any
    only_user_id    bigint,          -- private to one user (a declined request), else NULL
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_conversation ON events (conversation_id, pos);
CREATE INDEX events_by_message ON events (conversation_id, seq) WHERE seq IS NOT NULL;

-- Takes n positions; the caller's transaction holds the counter until commit.
-- Returns the first of them.
CREATE FUNCTION missive_take_positions(n integer) RETURNS bigint
LANGUAGE sql AS $$
    UPDATE event_counter SET pos = pos + n WHERE id = 1 RETURNING pos - n + 1
$$;

-- Appends one event and announces it; returns its pos. For the one-off writers
-- (edits, reactions, membership). Sends go through missive_send_batch.
CREATE FUNCTION missive_emit(p_conv bigint, p_type text, p_actor bigint, p_seq bigint,
                             p_only_user bigint, p_payload jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_pos bigint := missive_take_positions(1);
BEGIN
    INSERT INTO events (pos, conversation_id, type, actor_id, seq, only_user_id, payload)
    VALUES (v_pos, p_conv, p_type, p_actor, p_seq, p_only_user, p_payload);
    PERFORM pg_notify('missive_events', v_pos || ':' || v_pos);
    RETURN v_pos;
END
$$;
