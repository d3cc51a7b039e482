-- The batched send (api/sendq.c): one transaction stores every send that was
-- waiting. Defined after the media tables (0007) because messages can hold media.
--
-- Positions and seqs follow 0002's rules: conversation rows are locked first
-- (by id), then member rows, then event_counter (missive_take_positions).

-- One send request as the batch writer passes it.
CREATE TYPE send_item AS (
    idx      integer,   -- position in the batch, echoed back
    conv     bigint,
    sender   bigint,
    session  bigint,    -- the sender's session, checked here to save a round trip
    cmid     uuid,
    body     text,     -- NULL for a message that is only media
    reply    bigint,
    media    bigint[]  -- media ids, checked by the API before the batch
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
    WHERE c.id = ANY (ARRAY(SELECT DISTINCT (u).conv FROM unnest(v_items) u)) ORDER BY c.id FOR UPDATE;

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
        -- LATERAL lookups: one index probe per item whatever the table sizes
        -- (a batch is small; hash joins over whole tables grew with them).
        FROM it
        LEFT JOIN LATERAL (SELECT cc.id, cc.kind, cc.last_seq FROM conversations cc
                           WHERE cc.id = it.conv) c ON true
        LEFT JOIN LATERAL (SELECT mm.state FROM members mm
                           WHERE mm.conversation_id = it.conv AND mm.user_id = it.sender) m ON true
        LEFT JOIN LATERAL (SELECT oo.seq FROM messages oo
                           WHERE oo.conversation_id = it.conv AND oo.sender_id = it.sender
                             AND oo.client_msg_id = it.cmid) old ON true
    )
    SELECT array_agg(v.verdict ORDER BY v.idx), array_agg(v.old_seq ORDER BY v.idx)
    INTO v_verdict, v_seq FROM v;

    -- v_verdict[k] and v_seq[k] belong to v_items[k] (both ordered by idx).

    -- New messages: seqs per conversation, continuing from last_seq.
    WITH fresh AS (
        SELECT u.*, row_number() OVER (PARTITION BY u.conv ORDER BY u.idx) AS n
        FROM unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, media, k)
        WHERE v_verdict[u.k] = 'created'
    ), counts AS (
        SELECT f.conv, count(*) AS cnt FROM fresh f GROUP BY f.conv
    ), bumped AS (
        UPDATE conversations c SET last_seq = c.last_seq + counts.cnt, last_activity_at = now()
        FROM counts WHERE c.id = counts.conv
        RETURNING c.id, c.last_seq - counts.cnt AS base
    ), ins AS (
        INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, body, reply_to_seq,
                              media_ids)
        SELECT f.conv, b.base + f.n, f.sender, f.cmid, f.body, f.reply, coalesce(f.media, '{}')
        FROM fresh f JOIN bumped b ON b.id = f.conv
        RETURNING messages.conversation_id, messages.seq, messages.sender_id, messages.media_ids
    ), held AS (
        -- Which messages hold which media: who may download it, and when it can go.
        INSERT INTO media_holders (media_id, conversation_id, seq)
        SELECT DISTINCT x.media_id, ins.conversation_id, ins.seq
        FROM ins, unnest(ins.media_ids) AS x(media_id)
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
                   'body', msg.body, 'reply_to', msg.reply_to_seq, 'media_ids', to_jsonb(msg.media_ids),
                   'created_at', to_char(msg.created_at AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
        FROM messages msg
        JOIN unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, media, k)
          ON msg.conversation_id = u.conv AND msg.sender_id = u.sender AND msg.client_msg_id = u.cmid
        WHERE v_verdict[u.k] = 'created';
        PERFORM pg_notify('missive_events', v_first || ':' || (v_first + v_total - 1));
    END IF;

    RETURN QUERY
    SELECT u.idx, coalesce(v_verdict[u.k], 'not_member'), msg.seq,
           to_char(msg.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    FROM unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, media, k)
    LEFT JOIN messages msg ON v_verdict[u.k] IN ('created', 'existing')
        AND msg.conversation_id = u.conv AND msg.sender_id = u.sender AND msg.client_msg_id = u.cmid
    ORDER BY u.idx;
END
$$;
