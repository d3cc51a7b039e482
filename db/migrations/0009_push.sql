-- Web Push notifications for users who are not connected (docs/push.md).
--
-- Flow:
--   1. Browsers register push subscriptions (missive-api, push_subscriptions).
--   2. The push worker reads the event stream after its own cursor (push_cursor)
--      and, for each new message, queues one row per (subscription, conversation)
--      for every recipient who should hear of it: an active member, not the
--      sender, not muting the conversation, not blocking the sender (either way),
--      not online, with a live subscription. Later messages merge into the same
--      row (push_outbox), so a burst becomes one push. Reading the events and
--      moving the cursor happen in one transaction: nothing is queued twice or
--      lost, and the send path is untouched.
--   3. The worker claims due rows (SKIP LOCKED, a lease instead of a transaction
--      held across HTTP), builds the payload here, encrypts and sends it, and
--      records the outcome: sent, subscription gone (404/410), retry later
--      (429/5xx, backoff), or given up (push_dead, with the reason).

-- The "hide previews" setting: a push then says "New message", not the text.
-- (PATCH /v1/me {push_previews} is wired by api/h_users.c.)
ALTER TABLE users ADD COLUMN push_previews boolean NOT NULL DEFAULT true;

CREATE TABLE push_subscriptions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The sign-in it was made in: logging out removes it.
    session_id      bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- One browser's endpoint belongs to one subscription (whoever registered it last).
    endpoint        text NOT NULL UNIQUE
                    CHECK (octet_length(endpoint) BETWEEN 10 AND 2048 AND endpoint LIKE 'https://%'),
    p256dh          bytea NOT NULL CHECK (octet_length(p256dh) = 65),
    auth            bytea NOT NULL CHECK (octet_length(auth) = 16),
    expires_at      timestamptz,      -- the browser's expirationTime, if it gave one
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_success_at timestamptz
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
CREATE INDEX push_subscriptions_session ON push_subscriptions (session_id);

-- Where the push worker is in the event stream. Starts at the current end:
-- history is never pushed.
CREATE TABLE push_cursor (
    id         integer PRIMARY KEY CHECK (id = 1),
    pos        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO push_cursor (id, pos) SELECT 1, pos FROM event_counter;

-- Pushes to make: one row per subscription and conversation. next_at is when it
-- is due: first message + gather window, a retry's backoff, or a claim's lease
-- (a worker that dies mid-send leaves the row to be retried when it lapses).
-- version counts merges, so a push sent while newer messages arrived is
-- followed by another.
CREATE TABLE push_outbox (
    subscription_id bigint NOT NULL REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    conversation_id bigint NOT NULL,
    user_id         bigint NOT NULL,
    last_seq        bigint NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    attempts        integer NOT NULL DEFAULT 0,
    first_at        timestamptz NOT NULL DEFAULT now(),
    next_at         timestamptz NOT NULL,
    last_status     integer,
    last_error      text,
    PRIMARY KEY (subscription_id, conversation_id)
);
CREATE INDEX push_outbox_due ON push_outbox (next_at);

-- Pushes given up on, and why (kept 7 days by the worker).
CREATE TABLE push_dead (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id bigint NOT NULL,
    user_id         bigint NOT NULL,
    conversation_id bigint NOT NULL,
    last_seq        bigint NOT NULL,
    attempts        integer NOT NULL,
    status          integer,          -- last HTTP status, NULL for network errors
    reason          text NOT NULL,
    failed_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_dead_age ON push_dead (failed_at);

-- Counters for /metrics, kept by the worker.
CREATE TABLE push_stats (
    name  text NOT NULL,
    label text NOT NULL DEFAULT '',
    value bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (name, label)
);

CREATE FUNCTION missive_push_count(p_name text, p_label text, p_n bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO push_stats AS s (name, label, value) VALUES (p_name, p_label, p_n)
    ON CONFLICT (name, label) DO UPDATE SET value = s.value + EXCLUDED.value
$$;

-- Registers (or refreshes) a subscription for p_user in session p_session.
-- status: created | updated | conflict (another user registered the same
-- endpoint at the same moment: try again). Keeps at most p_max per user,
-- dropping the least recently registered.
CREATE FUNCTION missive_push_subscribe(p_user bigint, p_session bigint, p_endpoint text,
                                       p_p256dh bytea, p_auth bytea, p_expires timestamptz,
                                       p_max integer,
                                       OUT status text, OUT sub_id bigint, OUT created text)
LANGUAGE plpgsql AS $$
DECLARE
    v_new boolean;
BEGIN
    -- A browser has one endpoint per site: if another account registered it,
    -- that account no longer owns this browser.
    DELETE FROM push_subscriptions s WHERE s.endpoint = p_endpoint AND s.user_id <> p_user;
    INSERT INTO push_subscriptions AS s (user_id, session_id, endpoint, p256dh, auth, expires_at)
    VALUES (p_user, p_session, p_endpoint, p_p256dh, p_auth, p_expires)
    ON CONFLICT (endpoint) DO UPDATE
    SET session_id = EXCLUDED.session_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
        expires_at = EXCLUDED.expires_at, updated_at = now()
    WHERE s.user_id = p_user
    RETURNING s.id, missive_ts(s.created_at), (s.xmax = 0) INTO sub_id, created, v_new;
    IF NOT FOUND THEN
        status := 'conflict';
        RETURN;
    END IF;
    DELETE FROM push_subscriptions WHERE id IN (
        SELECT s.id FROM push_subscriptions s WHERE s.user_id = p_user AND s.id <> sub_id
        ORDER BY s.updated_at DESC, s.id DESC OFFSET greatest(p_max - 1, 0));
    status := CASE WHEN v_new THEN 'created' ELSE 'updated' END;
END
$$;

-- Reads up to p_limit events after the cursor and queues pushes for the new
-- messages among them; moves the cursor in the same transaction. Returns the
-- number of events read (0: caught up, or another worker holds the cursor).
--   p_online_timeout  presence_timeout (seconds): who counts as online
--   p_gather_ms       how long after a message its push waits for more
--   p_max_age         messages older than this (seconds) are not pushed at all
CREATE FUNCTION missive_push_enqueue(p_limit integer, p_online_timeout integer,
                                     p_gather_ms integer, p_max_age integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_from bigint;
    v_to   bigint;
BEGIN
    SELECT c.pos INTO v_from FROM push_cursor c WHERE c.id = 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN RETURN 0; END IF;
    -- Positions are gap-free and visible in commit order (0002), so everything
    -- up to the highest visible position in range is there to read.
    SELECT max(e.pos) INTO v_to FROM events e WHERE e.pos > v_from AND e.pos <= v_from + p_limit;
    IF v_to IS NULL THEN RETURN 0; END IF;

    INSERT INTO push_outbox AS o (subscription_id, conversation_id, user_id, last_seq, first_at,
                                  next_at)
    WITH ev AS MATERIALIZED (
        -- Driven from the new events (a few), never from all members (many):
        -- the cost of a pass follows the traffic, not the size of the tables.
        SELECT e.conversation_id, e.seq, e.actor_id, e.created_at
        FROM events e
        WHERE e.pos > v_from AND e.pos <= v_to AND e.type = 'message.created'
          AND e.created_at > now() - make_interval(secs => p_max_age)
    ), cand AS MATERIALIZED (
        SELECT ev.conversation_id, ev.seq, ev.actor_id, ev.created_at, m.user_id
        FROM ev
        JOIN members m ON m.conversation_id = ev.conversation_id AND m.user_id <> ev.actor_id
                      AND m.state = 'active'            -- message requests never push
                      AND m.joined_seq < ev.seq AND m.last_read_seq < ev.seq
                      AND (m.muted_until IS NULL OR m.muted_until <= now())
        WHERE EXISTS (SELECT 1 FROM push_subscriptions ps WHERE ps.user_id = m.user_id)
    )
    SELECT s.id, x.conversation_id, x.user_id, x.last_seq, x.first_at,
           x.first_at + make_interval(secs => p_gather_ms / 1000.0)
    FROM (
        SELECT c.conversation_id, c.user_id, max(c.seq) AS last_seq, min(c.created_at) AS first_at
        FROM cand c
        JOIN messages msg ON msg.conversation_id = c.conversation_id AND msg.seq = c.seq
                         AND msg.deleted_at IS NULL
        WHERE NOT missive_blocked(c.user_id, c.actor_id)
          AND NOT missive_is_online(c.user_id, p_online_timeout)
        GROUP BY c.conversation_id, c.user_id
    ) x
    JOIN push_subscriptions s ON s.user_id = x.user_id
                             AND (s.expires_at IS NULL OR s.expires_at > now())
    JOIN sessions ss ON ss.id = s.session_id AND ss.revoked_at IS NULL AND ss.expires_at > now()
    ON CONFLICT (subscription_id, conversation_id) DO UPDATE
    SET last_seq = greatest(o.last_seq, EXCLUDED.last_seq), version = o.version + 1;

    UPDATE push_cursor SET pos = v_to, updated_at = now() WHERE id = 1;
    RETURN (v_to - v_from)::integer;
END
$$;

-- What a push says (< 1 KiB of JSON, far under the 3993-byte limit):
--   conversation_id, seq (newest message), count (unread messages, at most 99:
--   a newer push replaces an older one, so each carries the whole story),
--   title (the sender, or the group's title), body (the text, or "New message" /
--   "N new messages" when the user hides previews), sender_id, sender_name, kind.
-- NULL when there is nothing to say (message or membership gone).
CREATE FUNCTION missive_push_payload(p_conv bigint, p_user bigint, p_seq bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'type', 'message', 'conversation_id', c.id, 'kind', c.kind, 'seq', p_seq,
        'count', n.cnt, 'sender_id', msg.sender_id, 'sender_name', su.display_name,
        'title', CASE WHEN c.kind = 'direct' THEN su.display_name ELSE coalesce(c.title, 'Group') END,
        'body', CASE
            WHEN NOT u.push_previews THEN
                CASE WHEN n.cnt = 1 THEN 'New message' ELSE n.cnt || ' new messages' END
            ELSE CASE WHEN c.kind = 'group' THEN su.display_name || ': ' ELSE '' END ||
                CASE WHEN msg.deleted_at IS NOT NULL THEN 'Message deleted'
                     WHEN msg.body IS NULL THEN 'Sent an attachment'
                     WHEN char_length(msg.body) > 120 THEN left(msg.body, 119) || '…'
                     ELSE msg.body END
            END)
    FROM conversations c
    JOIN users u ON u.id = p_user
    JOIN members m ON m.conversation_id = c.id AND m.user_id = p_user
    JOIN messages msg ON msg.conversation_id = c.id AND msg.seq = p_seq
    JOIN users su ON su.id = msg.sender_id
    CROSS JOIN LATERAL (
        SELECT greatest(count(*), 1) AS cnt FROM (
            SELECT 1 FROM messages x
            WHERE x.conversation_id = c.id AND x.seq > greatest(m.last_read_seq, m.joined_seq)
              AND x.seq <= p_seq AND x.sender_id <> p_user AND x.deleted_at IS NULL
            LIMIT 99) y
    ) n
    WHERE c.id = p_conv
$$;

-- Claims up to p_limit due pushes for p_lease seconds and returns what is needed
-- to send them. Rows that lost their reason first are dropped (counted as
-- "skipped"): the user read up to it, came online, muted or left.
CREATE FUNCTION missive_push_claim(p_limit integer, p_online_timeout integer, p_lease integer)
RETURNS TABLE (o_sub bigint, o_conv bigint, o_version integer, o_attempts integer,
               o_endpoint text, o_p256dh text, o_auth text, o_payload text, o_urgency text)
LANGUAGE plpgsql AS $$
DECLARE
    v_stale bigint;
BEGIN
    WITH stale AS (
        DELETE FROM push_outbox o
        WHERE (o.subscription_id, o.conversation_id) IN (
            SELECT q.subscription_id, q.conversation_id
            FROM push_outbox q
            LEFT JOIN members m ON m.conversation_id = q.conversation_id AND m.user_id = q.user_id
            WHERE q.next_at <= now()
              AND (m.state IS DISTINCT FROM 'active' OR m.last_read_seq >= q.last_seq
                   OR (m.muted_until IS NOT NULL AND m.muted_until > now())
                   OR missive_is_online(q.user_id, p_online_timeout))
            ORDER BY q.next_at LIMIT p_limit
            FOR UPDATE OF q SKIP LOCKED)
        RETURNING 1)
    SELECT count(*) INTO v_stale FROM stale;
    IF v_stale > 0 THEN
        PERFORM missive_push_count('skipped', '', v_stale);
    END IF;

    RETURN QUERY
    WITH c AS (
        UPDATE push_outbox o
        SET next_at = now() + make_interval(secs => p_lease), attempts = o.attempts + 1
        WHERE (o.subscription_id, o.conversation_id) IN (
            SELECT q.subscription_id, q.conversation_id FROM push_outbox q
            WHERE q.next_at <= now()
            ORDER BY q.next_at LIMIT p_limit
            FOR UPDATE SKIP LOCKED)
        RETURNING o.subscription_id, o.conversation_id, o.user_id, o.last_seq, o.version,
                  o.attempts
    )
    SELECT c.subscription_id, c.conversation_id, c.version, c.attempts, s.endpoint,
           encode(s.p256dh, 'hex'), encode(s.auth, 'hex'),
           missive_push_payload(c.conversation_id, c.user_id, c.last_seq)::text,
           CASE WHEN cv.kind = 'direct' THEN 'high' ELSE 'normal' END
    FROM c
    JOIN push_subscriptions s ON s.id = c.subscription_id
    JOIN conversations cv ON cv.id = c.conversation_id;
END
$$;

-- Records the outcome of one claimed push.
--   p_outcome  sent   2xx: done (if newer messages merged meanwhile, they follow)
--              gone   404/410: the subscription no longer exists; delete it
--              retry  429/5xx/network: again after p_delay_ms, unless out of attempts
--              fail   any other answer, or a local error: give up now
--   p_label    the status for the failure counters ("503", "network", ...)
-- Returns what became of it: sent | removed | retry | dead | missing.
CREATE FUNCTION missive_push_result(p_sub bigint, p_conv bigint, p_version integer,
                                    p_outcome text, p_status integer, p_label text,
                                    p_delay_ms integer, p_reason text, p_max_attempts integer,
                                    p_gather_ms integer)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v push_outbox;
BEGIN
    IF p_outcome = 'sent' THEN
        PERFORM missive_push_count('sent', '', 1);
        UPDATE push_subscriptions SET last_success_at = now() WHERE id = p_sub;
        DELETE FROM push_outbox
        WHERE subscription_id = p_sub AND conversation_id = p_conv AND version = p_version;
        IF NOT FOUND THEN
            UPDATE push_outbox
            SET attempts = 0, last_status = NULL, last_error = NULL,
                next_at = now() + make_interval(secs => p_gather_ms / 1000.0)
            WHERE subscription_id = p_sub AND conversation_id = p_conv;
        END IF;
        RETURN 'sent';
    END IF;

    PERFORM missive_push_count('failed', p_label, 1);
    IF p_outcome = 'gone' THEN
        DELETE FROM push_subscriptions WHERE id = p_sub;
        PERFORM missive_push_count('subscriptions_removed', '', 1);
        RETURN 'removed';
    END IF;

    SELECT * INTO v FROM push_outbox
    WHERE subscription_id = p_sub AND conversation_id = p_conv FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'missing';
    END IF;
    IF p_outcome = 'retry' AND v.attempts < p_max_attempts THEN
        UPDATE push_outbox
        SET next_at = now() + make_interval(secs => p_delay_ms / 1000.0),
            last_status = p_status, last_error = left(p_reason, 500)
        WHERE subscription_id = p_sub AND conversation_id = p_conv;
        PERFORM missive_push_count('retried', '', 1);
        RETURN 'retry';
    END IF;

    INSERT INTO push_dead (subscription_id, user_id, conversation_id, last_seq, attempts, status,
                           reason)
    VALUES (p_sub, v.user_id, p_conv, v.last_seq, v.attempts, p_status,
            left(CASE WHEN p_outcome = 'retry'
                      THEN 'gave up after ' || v.attempts || ' attempts: ' ELSE '' END
                 || p_reason, 500));
    DELETE FROM push_outbox WHERE subscription_id = p_sub AND conversation_id = p_conv;
    PERFORM missive_push_count('gave_up', CASE WHEN p_outcome = 'retry' THEN 'max_attempts'
                                               ELSE 'rejected' END, 1);
    RETURN 'dead';
END
$$;

-- Push metrics for /metrics: one row per sample. labels is the inside of the
-- braces in Prometheus syntax ('' for none): render name{labels} value, with
-- "# HELP name help" and "# TYPE name type" once per name.
CREATE FUNCTION missive_push_metrics()
RETURNS TABLE (name text, labels text, value double precision, type text, help text)
LANGUAGE sql STABLE AS $$
    SELECT 'missive_push_sent_total', '',
           coalesce((SELECT s.value FROM push_stats s WHERE s.name = 'sent' AND s.label = ''), 0)::float8,
           'counter', 'Pushes accepted by a push service (2xx).'
    UNION ALL
    SELECT 'missive_push_failed_total', 'status="' || s.label || '"', s.value::float8, 'counter',
           'Push attempts that failed, by HTTP status (or network, refused, local).'
    FROM push_stats s WHERE s.name = 'failed'
    UNION ALL
    SELECT 'missive_push_retried_total', '',
           coalesce((SELECT s.value FROM push_stats s WHERE s.name = 'retried' AND s.label = ''), 0)::float8,
           'counter', 'Push attempts scheduled again after a 429, 5xx or network error.'
    UNION ALL
    SELECT 'missive_push_gave_up_total', 'reason="' || s.label || '"', s.value::float8, 'counter',
           'Pushes given up (see push_dead).'
    FROM push_stats s WHERE s.name = 'gave_up'
    UNION ALL
    SELECT 'missive_push_skipped_total', '',
           coalesce((SELECT s.value FROM push_stats s WHERE s.name = 'skipped' AND s.label = ''), 0)::float8,
           'counter', 'Queued pushes dropped before sending (read, online, muted or left meanwhile).'
    UNION ALL
    SELECT 'missive_push_subscriptions_removed_total', '',
           coalesce((SELECT s.value FROM push_stats s
                     WHERE s.name = 'subscriptions_removed' AND s.label = ''), 0)::float8,
           'counter', 'Subscriptions deleted because the push service answered 404 or 410.'
    UNION ALL
    SELECT 'missive_push_queue_depth', '', (SELECT count(*) FROM push_outbox)::float8, 'gauge',
           'Pushes queued, in flight or waiting to be retried.'
    UNION ALL
    SELECT 'missive_push_queue_oldest_seconds', '',
           coalesce((SELECT extract(epoch FROM now() - min(o.first_at)) FROM push_outbox o), 0)::float8,
           'gauge', 'Age of the oldest queued push.'
    UNION ALL
    SELECT 'missive_push_event_lag', '',
           ((SELECT ec.pos FROM event_counter ec) - (SELECT pc.pos FROM push_cursor pc))::float8,
           'gauge', 'Events the push worker has not read yet.'
    UNION ALL
    SELECT 'missive_push_subscriptions', '', (SELECT count(*) FROM push_subscriptions)::float8,
           'gauge', 'Registered push subscriptions.'
    UNION ALL
    SELECT 'missive_push_dead_letters', '', (SELECT count(*) FROM push_dead)::float8, 'gauge',
           'Pushes given up in the last 7 days.'
$$;
