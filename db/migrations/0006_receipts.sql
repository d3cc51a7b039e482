-- Read receipts and delivery ticks.
--
-- Intake (missive-api) only records a member's newest marks in pending_receipts,
-- one row per (conversation, member), so a thousand marks in a second are one
-- row. The receipts worker takes rows with SKIP LOCKED (any number of workers),
-- applies them to members, and writes one coalesced `receipt` event per
-- (conversation, member) per batch, all in one transaction: a worker killed
-- mid-batch leaves the rows for the next one, and marks only ever move forward
-- (greatest()), so applying a row twice is harmless.

ALTER TABLE users ADD COLUMN send_read_receipts boolean NOT NULL DEFAULT true;

CREATE TABLE pending_receipts (
    conversation_id bigint NOT NULL,
    user_id         bigint NOT NULL,
    delivered_seq   bigint NOT NULL DEFAULT 0,
    read_seq        bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, user_id)
);

-- Records a mark. p_read: a read mark (which implies delivered).
-- status: ok | ignored (not above the current mark) | not_found | beyond (seq > last)
CREATE FUNCTION missive_mark(p_conv bigint, p_user bigint, p_seq bigint, p_read boolean,
                             p_wake boolean)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    SELECT c.last_seq, m.last_read_seq, m.last_delivered_seq INTO v
    FROM members m JOIN conversations c ON c.id = m.conversation_id
    WHERE m.conversation_id = p_conv AND m.user_id = p_user AND m.state IN ('active', 'request');
    IF NOT FOUND THEN RETURN 'not_found'; END IF;
    IF p_seq > v.last_seq THEN RETURN 'beyond'; END IF;
    IF (p_read AND p_seq <= v.last_read_seq) OR (NOT p_read AND p_seq <= v.last_delivered_seq) THEN
        RETURN 'ignored';
    END IF;
    INSERT INTO pending_receipts AS p (conversation_id, user_id, delivered_seq, read_seq)
    VALUES (p_conv, p_user, p_seq, CASE WHEN p_read THEN p_seq ELSE 0 END)
    ON CONFLICT (conversation_id, user_id) DO UPDATE
    SET delivered_seq = greatest(p.delivered_seq, EXCLUDED.delivered_seq),
        read_seq = greatest(p.read_seq, EXCLUDED.read_seq),
        updated_at = now();
    IF p_wake THEN
        PERFORM pg_notify('missive_receipts', '');
    END IF;
    RETURN 'ok';
END
$$;

-- Applies up to p_limit pending rows; returns how many rows it took (0: queue empty).
CREATE FUNCTION missive_apply_receipts(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_taken  integer;
    v_events integer;
    v_first  bigint;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS receipts_batch (
        conversation_id bigint, user_id bigint, delivered_seq bigint, read_seq bigint
    ) ON COMMIT DELETE ROWS;

    WITH taken AS (
        DELETE FROM pending_receipts p
        WHERE (p.conversation_id, p.user_id) IN (
            SELECT q.conversation_id, q.user_id FROM pending_receipts q
            ORDER BY q.updated_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
        RETURNING p.conversation_id, p.user_id, p.delivered_seq, p.read_seq
    )
    INSERT INTO receipts_batch SELECT * FROM taken;
    GET DIAGNOSTICS v_taken = ROW_COUNT;
    IF v_taken = 0 THEN RETURN 0; END IF;

    -- The common lock order: conversations, then members, then event_counter.
    PERFORM 1 FROM conversations c
    WHERE c.id IN (SELECT b.conversation_id FROM receipts_batch b) ORDER BY c.id FOR UPDATE;

    WITH moved AS (
        UPDATE members m
        SET last_delivered_seq = greatest(m.last_delivered_seq, b.delivered_seq, b.read_seq),
            last_read_seq = greatest(m.last_read_seq, b.read_seq)
        FROM receipts_batch b
        WHERE m.conversation_id = b.conversation_id AND m.user_id = b.user_id
          AND m.state IN ('active', 'request')
          AND (greatest(b.delivered_seq, b.read_seq) > m.last_delivered_seq
               OR b.read_seq > m.last_read_seq)
        RETURNING m.conversation_id, m.user_id, m.state, m.last_delivered_seq, m.last_read_seq
    ), shared AS (
        -- A pending message request shares no receipts until accepted.
        SELECT mv.*, u.send_read_receipts,
               row_number() OVER (ORDER BY mv.conversation_id, mv.user_id) AS k
        FROM moved mv JOIN users u ON u.id = mv.user_id
        WHERE mv.state = 'active'
    ), pos AS (
        SELECT missive_take_positions(count(*)::integer) AS first FROM shared HAVING count(*) > 0
    ), ins AS (
        INSERT INTO events (pos, conversation_id, type, actor_id, payload)
        SELECT pos.first + s.k - 1, s.conversation_id, 'receipt', s.user_id,
               jsonb_build_object('conversation_id', s.conversation_id, 'user_id', s.user_id,
                   'delivered_seq', s.last_delivered_seq,
                   'read_seq', CASE WHEN s.send_read_receipts THEN s.last_read_seq END)
        FROM shared s, pos
        RETURNING events.pos
    )
    SELECT count(*), min(ins.pos) INTO v_events, v_first FROM ins;

    IF v_events > 0 THEN
        PERFORM pg_notify('missive_events', v_first || ':' || (v_first + v_events - 1));
    END IF;
    RETURN v_taken;
END
$$;

-- Views: a member who keeps read receipts private shows their read mark to
-- nobody but themself; a message shows its sender how many members have it.
CREATE OR REPLACE FUNCTION missive_member_json(p_conv bigint, p_user bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('user_id', u.id, 'username', u.username,
        'display_name', u.display_name, 'role', m.role,
        'state', CASE WHEN m.state = 'declined' THEN 'request' ELSE m.state END,
        'joined_at', missive_ts(m.joined_at),
        'last_read_seq', CASE WHEN u.send_read_receipts THEN m.last_read_seq END,
        'last_delivered_seq', m.last_delivered_seq)
    FROM members m JOIN users u ON u.id = m.user_id
    WHERE m.conversation_id = p_conv AND m.user_id = p_user
$$;

CREATE OR REPLACE FUNCTION missive_message_json(m messages, p_viewer bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'conversation_id', m.conversation_id, 'seq', m.seq, 'sender_id', m.sender_id,
        'client_msg_id', m.client_msg_id, 'body', m.body, 'reply_to', m.reply_to_seq,
        'media_ids', to_jsonb(m.media_ids),
        'created_at', missive_ts(m.created_at), 'edited_at', missive_ts(m.edited_at),
        'deleted_at', missive_ts(m.deleted_at),
        'reactions', missive_reactions_json(m.conversation_id, m.seq, p_viewer))
    || CASE WHEN m.sender_id = p_viewer THEN jsonb_build_object('receipts',
           (SELECT jsonb_build_object(
                'recipients', count(*),
                'delivered', count(*) FILTER (WHERE o.last_delivered_seq >= m.seq),
                'read', count(*) FILTER (WHERE o.last_read_seq >= m.seq AND u.send_read_receipts))
            FROM members o JOIN users u ON u.id = o.user_id
            WHERE o.conversation_id = m.conversation_id AND o.user_id <> m.sender_id
              AND o.state = 'active'))
       ELSE '{}'::jsonb END
$$;
