-- The batched send, cheaper per call (bench/README.md has the numbers).
--
-- Profiled with one writer calling this in a loop, a 1-message batch cost
-- ~1.2 ms of CPU, most of it per call rather than per message. Two per-call
-- costs go here:
--   * missive_take_positions is now inline: a LANGUAGE sql function called from
--     PL/pgSQL is planned again on every call (its plan is not cached);
--   * missive_ts is STABLE, as its body is (to_char): declared IMMUTABLE it could
--     not be inlined, so each call ran as a separate SQL function (seen once per
--     event in missive-sse's fan-out and replay queries).
-- Same contract, lock order and results as 0011. CREATE OR REPLACE drops the
-- function's SET clauses, so 0011's plan_cache_mode is set again below (without
-- it every call re-planned every statement: ~1 ms more per batch), now with
-- enable_seqscan = off: a generic plan is made once per connection, from the
-- statistics of that moment. Made on a young database (tables nearly empty, not
-- yet analyzed) it scanned messages whole for each retry lookup, and kept doing
-- so as the table grew, until autovacuum's next ANALYZE. Every lookup here is by
-- key, so an index path is always right: bench-send at 16 clients went from
-- 1,302 to 2,512 sends/s with it (bench/README.md).

CREATE OR REPLACE FUNCTION missive_send_batch(p_items jsonb)
RETURNS TABLE (idx integer, result text, seq bigint, created_at text)
LANGUAGE plpgsql AS $$
DECLARE
    v_items   send_item[];
    v_verdict text[];
    v_seq     bigint[];   -- stored seq of a retry, by item
    v_at      text[];     -- its created_at
    v_total   integer;
    v_first   bigint;
    v_now     text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
    v_keys    text[];     -- conv:sender:cmid of each new message ...
    v_newseq  bigint[];   -- ... and its seq
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
            old.seq AS old_seq,
            to_char(old.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS old_at
        -- LATERAL lookups: one index probe per item whatever the table sizes
        -- (a batch is small; hash joins over whole tables grew with them).
        FROM it
        LEFT JOIN LATERAL (SELECT cc.id, cc.kind, cc.last_seq FROM conversations cc
                           WHERE cc.id = it.conv) c ON true
        LEFT JOIN LATERAL (SELECT mm.state FROM members mm
                           WHERE mm.conversation_id = it.conv AND mm.user_id = it.sender) m ON true
        LEFT JOIN LATERAL (SELECT oo.seq, oo.created_at FROM messages oo
                           WHERE oo.conversation_id = it.conv AND oo.sender_id = it.sender
                             AND oo.client_msg_id = it.cmid) old ON true
    )
    SELECT array_agg(v.verdict ORDER BY v.idx), array_agg(v.old_seq ORDER BY v.idx),
           array_agg(v.old_at ORDER BY v.idx), count(*) FILTER (WHERE v.verdict = 'created')
    INTO v_verdict, v_seq, v_at, v_total FROM v;

    -- v_verdict[k], v_seq[k] and v_at[k] belong to v_items[k] (all ordered by idx).

    IF v_total > 0 THEN
        -- missive_take_positions, inline: a SQL function is planned on every call.
        UPDATE event_counter SET pos = pos + v_total WHERE id = 1 RETURNING pos - v_total + 1
        INTO v_first;

        -- New messages: seqs per conversation continue from last_seq; positions
        -- follow the batch order, so within a conversation they follow the seqs.
        WITH fresh AS (
            SELECT u.*, row_number() OVER (PARTITION BY u.conv ORDER BY u.idx) AS n,
                   row_number() OVER (ORDER BY u.idx) AS p
            FROM unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, media, k)
            WHERE v_verdict[u.k] = 'created'
        ), counts AS (
            SELECT f.conv, count(*) AS cnt FROM fresh f GROUP BY f.conv
        ), bumped AS (
            UPDATE conversations c SET last_seq = c.last_seq + counts.cnt, last_activity_at = now()
            FROM counts WHERE c.id = counts.conv
            RETURNING c.id, c.last_seq - counts.cnt AS base
        ), made AS MATERIALIZED (
            SELECT f.*, b.base + f.n AS seq FROM fresh f JOIN bumped b ON b.id = f.conv
        ), ins AS (
            INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, body, reply_to_seq,
                                  media_ids)
            SELECT r.conv, r.seq, r.sender, r.cmid, r.body, r.reply, coalesce(r.media, '{}')
            FROM made r
        ), ev AS (
            INSERT INTO events (pos, conversation_id, type, actor_id, seq, payload)
            SELECT v_first - 1 + r.p, r.conv, 'message.created', r.sender, r.seq,
                   jsonb_build_object('conversation_id', r.conv, 'seq', r.seq,
                       'sender_id', r.sender, 'client_msg_id', r.cmid, 'body', r.body,
                       'reply_to', r.reply, 'media_ids', to_jsonb(coalesce(r.media, '{}')),
                       'created_at', v_now)
            FROM made r
        ), held AS (
            -- Which messages hold which media: who may download it, and when it can go.
            INSERT INTO media_holders (media_id, conversation_id, seq)
            SELECT DISTINCT x.media_id, r.conv, r.seq
            FROM made r, unnest(r.media) AS x(media_id)
        ), marks AS (
            -- Sending implies having read everything up to one's own message.
            UPDATE members m SET last_read_seq = greatest(m.last_read_seq, x.mx),
                                 last_delivered_seq = greatest(m.last_delivered_seq, x.mx)
            FROM (SELECT r.conv, r.sender, max(r.seq) AS mx FROM made r GROUP BY r.conv, r.sender) x
            WHERE m.conversation_id = x.conv AND m.user_id = x.sender
        )
        SELECT array_agg(r.conv || ':' || r.sender || ':' || r.cmid), array_agg(r.seq)
        INTO v_keys, v_newseq FROM made r;

        PERFORM pg_notify('missive_events', v_first || ':' || (v_first + v_total - 1));
    END IF;

    -- A retry answers with the stored message; a repeat inside this batch with
    -- the one this batch created.
    RETURN QUERY
    SELECT u.idx, coalesce(v_verdict[u.k], 'not_member'),
           CASE WHEN v_verdict[u.k] IN ('created', 'existing') THEN coalesce(v_seq[u.k], n.seq) END,
           CASE WHEN v_verdict[u.k] NOT IN ('created', 'existing') THEN NULL
                WHEN v_seq[u.k] IS NOT NULL THEN v_at[u.k]
                WHEN n.seq IS NOT NULL THEN v_now END
    FROM unnest(v_items) WITH ORDINALITY AS u(idx, conv, sender, session, cmid, body, reply, media, k)
    LEFT JOIN unnest(v_keys, v_newseq) AS n(key, seq)
           ON n.key = u.conv || ':' || u.sender || ':' || u.cmid
    ORDER BY u.idx;
END
$$;

ALTER FUNCTION missive_ts(timestamptz) STABLE;

ALTER FUNCTION missive_send_batch(jsonb) SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
