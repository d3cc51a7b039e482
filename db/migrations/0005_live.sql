-- Live delivery: reading the event stream, stream tickets, presence, and the
-- notifications missive-sse listens for.
--
-- Channels:
--   missive_events    "FIRST:LAST" positions of committed events (0002/0003)
--   missive_sessions  a session id that was revoked: its streams end
--   missive_ephemeral JSON of a typing or presence notice: never stored

-- An event as clients see it (openapi.yaml: Event).
CREATE FUNCTION missive_event_json(e events) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('pos', e.pos, 'type', e.type, 'conversation_id', e.conversation_id,
        'actor_id', e.actor_id, 'created_at', missive_ts(e.created_at), 'data', e.payload)::text
$$;

-- The events after p_cursor that p_user may see: only from conversations they
-- belonged to at each event's time, and private events only to their user.
CREATE FUNCTION missive_events_for(p_user bigint, p_cursor bigint, p_limit integer)
RETURNS TABLE (pos bigint, type text, json text)
LANGUAGE sql STABLE AS $$
    SELECT e.pos, e.type, missive_event_json(e)
    FROM member_spans s
    JOIN events e ON e.conversation_id = s.conversation_id AND e.pos > p_cursor
                 AND e.pos >= s.from_pos AND (s.to_pos IS NULL OR e.pos <= s.to_pos)
    WHERE s.user_id = p_user AND (s.to_pos IS NULL OR s.to_pos > p_cursor)
      AND (e.only_user_id IS NULL OR e.only_user_id = p_user)
      AND (e.seq IS NULL OR e.seq > s.min_seq)
    ORDER BY e.pos
    LIMIT p_limit
$$;

CREATE INDEX member_spans_by_conversation ON member_spans (conversation_id, from_pos);

-- The events in [p_from, p_to] with, for each, every user who may see it: what
-- missive-sse fans out after a NOTIFY. Membership comes from member_spans, so a
-- member added or removed at pos P sees exactly the events a replay would show.
CREATE FUNCTION missive_events_range(p_from bigint, p_to bigint)
RETURNS TABLE (pos bigint, type text, json text, users bigint[])
LANGUAGE sql STABLE AS $$
    SELECT e.pos, e.type, missive_event_json(e),
           (SELECT array_agg(s.user_id) FROM member_spans s
            WHERE s.conversation_id = e.conversation_id AND e.pos >= s.from_pos
              AND (s.to_pos IS NULL OR e.pos <= s.to_pos)
              AND (e.only_user_id IS NULL OR e.only_user_id = s.user_id)
              AND (e.seq IS NULL OR e.seq > s.min_seq))
    FROM events e
    WHERE e.pos BETWEEN p_from AND p_to
    ORDER BY e.pos
$$;

-- One-time stream tickets: EventSource cannot send headers, and a long-lived
-- token must never sit in a URL. A ticket is worth one connection, for ~30 s.
CREATE TABLE stream_tickets (
    token_hash  bytea PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  bigint NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);

-- Spends a ticket: the user and session, or no row if the ticket is unknown,
-- used, expired, or its session ended.
CREATE FUNCTION missive_use_ticket(p_hash_hex text)
RETURNS TABLE (user_id bigint, session_id bigint)
LANGUAGE sql AS $$
    UPDATE stream_tickets t SET used_at = now()
    FROM sessions s
    WHERE t.token_hash = decode(p_hash_hex, 'hex') AND t.used_at IS NULL
      AND t.expires_at > now() AND s.id = t.session_id AND s.revoked_at IS NULL
      AND s.expires_at > now()
    RETURNING t.user_id, t.session_id
$$;

-- A revoked session's streams end at once.
CREATE FUNCTION missive_session_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('missive_sessions', NEW.id::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION missive_session_revoked();

-- Presence: a user is online while some live missive-sse instance holds a
-- stream or long-poll of theirs. Instances beat every few seconds; the rows of
-- an instance that stopped beating (it crashed) are reaped after a timeout.
CREATE TABLE sse_instances (
    id           text PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE presence (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    instance_id text NOT NULL REFERENCES sse_instances (id) ON DELETE CASCADE,
    since       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, instance_id)
);
CREATE INDEX presence_by_instance ON presence (instance_id);
ALTER TABLE users ADD COLUMN last_active_at timestamptz;

-- The users who may see p_user's presence: they share an active direct
-- conversation or a small group (both active members: not a pending request),
-- and neither has blocked the other. Large groups are left out on purpose, as
-- Messenger and WhatsApp do: a thousand members coming online would otherwise
-- be a million notices.
CREATE FUNCTION missive_presence_audience(p_user bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT o.user_id), '{}')
    FROM members me
    JOIN conversations c ON c.id = me.conversation_id
    JOIN members o ON o.conversation_id = me.conversation_id AND o.user_id <> me.user_id
                  AND o.state = 'active'
    WHERE me.user_id = p_user AND me.state = 'active'
      AND (c.kind = 'direct'
           OR (SELECT count(*) FROM members g WHERE g.conversation_id = c.id
               AND g.state = 'active') <= 32)
      AND NOT missive_blocked(p_user, o.user_id)
$$;

-- Who sees typing in a conversation: its other active members who have not
-- blocked the typist (nor been blocked by them).
CREATE FUNCTION missive_typing_audience(p_conv bigint, p_user bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(o.user_id), '{}')
    FROM members o
    WHERE o.conversation_id = p_conv AND o.user_id <> p_user AND o.state = 'active'
      AND NOT missive_blocked(p_user, o.user_id)
$$;

-- Presence transitions. Each returns nothing; it NOTIFYs missive_ephemeral with
-- {"type":"presence","user_id":N,"online":bool,"last_active_at":...} for every
-- user whose online state changed, so every missive-sse can tell their audience.
CREATE FUNCTION missive_presence_notify(p_user bigint, p_online boolean) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('missive_ephemeral', jsonb_build_object('type', 'presence',
        'user_id', p_user, 'online', p_online,
        'last_active_at', (SELECT missive_ts(last_active_at) FROM users WHERE id = p_user))::text)
$$;

-- True while a live instance (heartbeat within p_timeout seconds) holds the user.
CREATE FUNCTION missive_is_online(p_user bigint, p_timeout integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM presence p JOIN sse_instances i ON i.id = p.instance_id
                   WHERE p.user_id = p_user
                     AND i.heartbeat_at > now() - make_interval(secs => p_timeout))
$$;

CREATE FUNCTION missive_presence_arrive(p_instance text, p_users bigint[], p_timeout integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u bigint;
BEGIN
    -- Users rows in id order first: several instances changing the same users
    -- at once must not lock them in different orders (deadlock).
    PERFORM 1 FROM users WHERE id = ANY (p_users) ORDER BY id FOR NO KEY UPDATE;
    FOR u IN
        INSERT INTO presence (user_id, instance_id)
        SELECT x, p_instance FROM unnest(p_users) x
        WHERE EXISTS (SELECT 1 FROM users WHERE id = x)
        ON CONFLICT DO NOTHING
        RETURNING user_id
    LOOP
        IF NOT EXISTS (SELECT 1 FROM presence p JOIN sse_instances i ON i.id = p.instance_id
                       WHERE p.user_id = u AND p.instance_id <> p_instance
                         AND i.heartbeat_at > now() - make_interval(secs => p_timeout)) THEN
            UPDATE users SET last_active_at = now() WHERE id = u;
            PERFORM missive_presence_notify(u, true);
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION missive_presence_leave(p_instance text, p_users bigint[], p_timeout integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    u bigint;
BEGIN
    PERFORM 1 FROM users WHERE id = ANY (p_users) ORDER BY id FOR NO KEY UPDATE;
    FOR u IN
        DELETE FROM presence WHERE instance_id = p_instance AND user_id = ANY (p_users)
        RETURNING user_id
    LOOP
        UPDATE users SET last_active_at = now() WHERE id = u;
        IF NOT missive_is_online(u, p_timeout) THEN
            PERFORM missive_presence_notify(u, false);
        END IF;
    END LOOP;
END
$$;

-- Heartbeat of one instance, and the reaping of instances that stopped beating.
CREATE FUNCTION missive_presence_beat(p_instance text, p_timeout integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    INSERT INTO sse_instances (id) VALUES (p_instance)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now();
    PERFORM 1 FROM users WHERE id IN (
        SELECT p.user_id FROM presence p JOIN sse_instances i ON i.id = p.instance_id
        WHERE i.heartbeat_at < now() - make_interval(secs => p_timeout))
    ORDER BY id FOR NO KEY UPDATE;
    FOR r IN
        DELETE FROM presence p USING sse_instances i
        WHERE i.id = p.instance_id AND i.heartbeat_at < now() - make_interval(secs => p_timeout)
        RETURNING p.user_id, i.heartbeat_at
    LOOP
        UPDATE users SET last_active_at = greatest(last_active_at, r.heartbeat_at)
        WHERE id = r.user_id;
        IF NOT missive_is_online(r.user_id, p_timeout) THEN
            PERFORM missive_presence_notify(r.user_id, false);
        END IF;
    END LOOP;
    DELETE FROM sse_instances WHERE heartbeat_at < now() - make_interval(secs => p_timeout);
END
$$;
