-- Presence arrivals and departures, set by set instead of user by user.
--
-- 0005 ran three statements per user (is another instance holding them? touch
-- last_active_at, then missive_presence_notify, a SQL function planned on every
-- call): ~0.2 ms of PostgreSQL per user, so 10,000 users coming online (a
-- missive-sse restart) held a core for about 2 s. Now one statement finds and
-- touches them all; what is left per user is the NOTIFY itself. Same locks in the
-- same order, same notices (bench/README.md has the numbers).

-- The text of a presence notice, in one place (the heartbeat's reaping sends it
-- through missive_presence_notify). A plain SQL expression: inlined where used.
CREATE FUNCTION missive_presence_notice(p_user bigint, p_online boolean, p_at timestamptz)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('type', 'presence', 'user_id', p_user, 'online', p_online,
                              'last_active_at', missive_ts(p_at))::text
$$;

CREATE OR REPLACE FUNCTION missive_presence_notify(p_user bigint, p_online boolean) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('missive_ephemeral', missive_presence_notice(p_user, p_online,
        (SELECT last_active_at FROM users WHERE id = p_user)))
$$;

CREATE OR REPLACE FUNCTION missive_presence_arrive(p_instance text, p_users bigint[], p_timeout integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    -- Users rows in id order first: several instances changing the same users
    -- at once must not lock them in different orders (deadlock).
    PERFORM 1 FROM users WHERE id = ANY (p_users) ORDER BY id FOR NO KEY UPDATE;
    FOR r IN
        WITH here AS (
            INSERT INTO presence (user_id, instance_id)
            SELECT x, p_instance FROM unnest(p_users) x
            WHERE EXISTS (SELECT 1 FROM users WHERE id = x)
            ON CONFLICT DO NOTHING
            RETURNING user_id
        ), came AS (
            -- Online now and not before: no live instance but this one holds them.
            SELECT h.user_id FROM here h
            WHERE NOT EXISTS (SELECT 1 FROM presence p JOIN sse_instances i ON i.id = p.instance_id
                              WHERE p.user_id = h.user_id AND p.instance_id <> p_instance
                                AND i.heartbeat_at > now() - make_interval(secs => p_timeout))
        )
        UPDATE users u SET last_active_at = now() FROM came c WHERE u.id = c.user_id
        RETURNING u.id, u.last_active_at
    LOOP
        PERFORM pg_notify('missive_ephemeral', missive_presence_notice(r.id, true, r.last_active_at));
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION missive_presence_leave(p_instance text, p_users bigint[], p_timeout integer)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM users WHERE id = ANY (p_users) ORDER BY id FOR NO KEY UPDATE;
    FOR r IN
        WITH gone AS (
            DELETE FROM presence WHERE instance_id = p_instance AND user_id = ANY (p_users)
            RETURNING user_id
        )
        UPDATE users u SET last_active_at = now() FROM gone g WHERE u.id = g.user_id
        RETURNING u.id, u.last_active_at,
            -- Still online elsewhere? (This statement does not see its own DELETE,
            -- so this instance's rows are left out by name.)
            EXISTS (SELECT 1 FROM presence p JOIN sse_instances i ON i.id = p.instance_id
                    WHERE p.user_id = u.id AND p.instance_id <> p_instance
                      AND i.heartbeat_at > now() - make_interval(secs => p_timeout)) AS elsewhere
    LOOP
        IF NOT r.elsewhere THEN
            PERFORM pg_notify('missive_ephemeral', missive_presence_notice(r.id, false, r.last_active_at));
        END IF;
    END LOOP;
END
$$;
