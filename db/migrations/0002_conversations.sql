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

-- One send request as the batch writer passes it.
CREATE TYPE send_item AS (
    idx      integer,   -- position in the batch, echoed back
    conv     bigint,
    sender   bigint,
    session  bigint,    -- the sender's session, checked here to save a round trip
    cmid     uuid,
    body     text,
    reply    bigint
);

-- Stores a batch of sends in one transaction: checks each (live session,
-- active membership, no block in a direct conversation, reply target exists),
-- finds retries of earlier sends, assigns gap-free per-conversation seqs and
-- commit-ordered event positions, writes messages and events, advances the
-- senders' read marks, and sends one NOTIFY for the batch.
--
-- result per item: created | existing | session | not_member | request | blocked | bad_reply
CREATE FUNCTION missive_send_batch(p_items jsonb)
RETURNS TABLE (idx integer, result text, seq bigint, created_at text)
LANGUAGE plpgsql AS $$
DECLARE
    v_items  send_item[];
    v_verdict text[];
    v_seq    bigint[];
    v_total  integer;
    v_first  bigint;
BEGIN
    SELECT array_agg(i ORDER BY i.idx) INTO v_items
    FROM jsonb_populate_recordset(NULL::send_item, p_items) i;

    -- Lock the conversations first (by id: one lock order for every writer), so
    -- membership, retries and seqs cannot change under us.
    PERFORM 1 FROM conversations c
    WHERE c.id IN (SELECT (u).conv FROM unnest(v_items) u) ORDER BY c.id FOR UPDATE;

    -- Verdicts and, for retries, the stored seq. ord = place among identical
    -- (conv, sender, cmid) items in this batch: only the first can be new.
    WITH it AS (
        SELECT u.*, row_number() OVER (PARTITION BY u.conv, u.sender, u.cmid ORDER BY u.idx) AS ord
        FROM unnest(v_items) u
    ), v AS (
        SELECT it.idx, it.ord,
            CASE
                WHEN c.id IS NULL THEN 'not_member'
                WHEN NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = it.session
                                 AND s.user_id = it.sender AND s.revoked_at IS NULL
                                 AND s.expires_at > now()) THEN 'session'
                WHEN m.state IS NULL OR m.state NOT IN ('active', 'request') THEN 'not_member'
                WHEN old.seq IS NOT NULL THEN 'existing'
                WHEN m.state = 'request' THEN 'request'
                WHEN c.kind = 'direct' AND EXISTS (
                    SELECT 1 FROM members o JOIN blocks b
                      ON (b.blocker_id = o.user_id AND b.blocked_id = it.sender)
                      OR (b.blocker_id = it.sender AND b.blocked_id = o.user_id)
                    WHERE o.conversation_id = it.conv AND o.user_id <> it.sender) THEN 'blocked'
                WHEN it.reply IS NOT NULL AND (it.reply < 1 OR it.reply > c.last_seq) THEN 'bad_reply'
                WHEN it.ord > 1 THEN 'existing'
                ELSE 'created'
            END AS verdict,
            old.seq AS old_seq
        FROM it
        LEFT JOIN conversations c ON c.id = it.conv
        LEFT JOIN members m ON m.conversation_id = it.conv AND m.user_id = it.sender
        LEFT JOIN messages old ON old.conversation_id = it.conv AND old.sender_id = it.sender
                              AND old.client_msg_id = it.cmid
    )
    SELECT array_agg(v.verdict ORDER BY v.idx), array_agg(v.old_seq ORDER BY v.idx)
    INTO v_verdict, v_seq FROM v;

    -- v_verdict[k] and v_seq[k] belong to v_items[k] (both ordered by idx).

    -- New messages: seqs per conversation, continuing from last_seq.
    WITH fresh AS (
        SELECT u.*, row_number() OVER (PARTITION BY u.conv ORDER BY u.idx) AS n
        FROM unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, k)
        WHERE v_verdict[u.k] = 'created'
    ), counts AS (
        SELECT f.conv, count(*) AS cnt FROM fresh f GROUP BY f.conv
    ), bumped AS (
        UPDATE conversations c SET last_seq = c.last_seq + counts.cnt, last_activity_at = now()
        FROM counts WHERE c.id = counts.conv
        RETURNING c.id, c.last_seq - counts.cnt AS base
    ), ins AS (
        INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, body, reply_to_seq)
        SELECT f.conv, b.base + f.n, f.sender, f.cmid, f.body, f.reply
        FROM fresh f JOIN bumped b ON b.id = f.conv
        RETURNING messages.conversation_id, messages.seq, messages.sender_id
    ), marks AS (
        -- Sending implies having read everything up to one's own message.
        UPDATE members m SET last_read_seq = greatest(m.last_read_seq, x.mx),
                             last_delivered_seq = greatest(m.last_delivered_seq, x.mx)
        FROM (SELECT ins.conversation_id, ins.sender_id, max(ins.seq) AS mx FROM ins
              GROUP BY ins.conversation_id, ins.sender_id) x
        WHERE m.conversation_id = x.conversation_id AND m.user_id = x.sender_id
    )
    SELECT count(*) INTO v_total FROM ins;

    IF v_total > 0 THEN
        v_first := missive_take_positions(v_total);
        INSERT INTO events (pos, conversation_id, type, actor_id, seq, payload)
        SELECT v_first - 1 + row_number() OVER (ORDER BY u.idx),
               msg.conversation_id, 'message.created', msg.sender_id, msg.seq,
               jsonb_build_object('conversation_id', msg.conversation_id, 'seq', msg.seq,
                   'sender_id', msg.sender_id, 'client_msg_id', msg.client_msg_id,
                   'body', msg.body, 'reply_to', msg.reply_to_seq,
                   'created_at', to_char(msg.created_at AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        FROM messages msg
        JOIN unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, k)
          ON msg.conversation_id = u.conv AND msg.sender_id = u.sender AND msg.client_msg_id = u.cmid
        WHERE v_verdict[u.k] = 'created';
        PERFORM pg_notify('missive_events', v_first || ':' || (v_first + v_total - 1));
    END IF;

    RETURN QUERY
    SELECT u.idx, coalesce(v_verdict[u.k], 'not_member'), msg.seq,
           to_char(msg.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, k)
    LEFT JOIN messages msg ON v_verdict[u.k] IN ('created', 'existing')
        AND msg.conversation_id = u.conv AND msg.sender_id = u.sender AND msg.client_msg_id = u.cmid
    ORDER BY u.idx;
END
$$;
