-- The event-producing operations on conversations, one function each.
--
-- Each runs as one statement from missive-api, so each is atomic and costs one
-- round trip. They return a status code ('ok' or a reason) rather than raising,
-- so the API maps reasons to HTTP answers without parsing error text. All follow
-- the lock order of 0002: conversation row first, then event_counter (taken by
-- missive_emit), so they cannot deadlock with the send batches.

-- Starts a span of visibility for a user at pos.
CREATE FUNCTION missive_span_open(p_conv bigint, p_user bigint, p_pos bigint,
                                  p_min_seq bigint DEFAULT 0) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO member_spans (conversation_id, user_id, from_pos, min_seq)
    VALUES (p_conv, p_user, p_pos, p_min_seq)
    ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION missive_span_close(p_conv bigint, p_user bigint, p_pos bigint) RETURNS void
LANGUAGE sql AS $$
    UPDATE member_spans SET to_pos = p_pos
    WHERE conversation_id = p_conv AND user_id = p_user AND to_pos IS NULL
$$;

-- 1 if either user blocked the other.
CREATE FUNCTION missive_blocked(a bigint, b bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = a AND blocked_id = b)
                                          OR (blocker_id = b AND blocked_id = a))
$$;

-- 1 if a and b are both active members of some conversation (kind = NULL: any kind).
CREATE FUNCTION missive_share(a bigint, b bigint, p_kind text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM members ma
        JOIN members mb ON mb.conversation_id = ma.conversation_id AND mb.user_id = b
                       AND mb.state = 'active'
        JOIN conversations c ON c.id = ma.conversation_id
        WHERE ma.user_id = a AND ma.state = 'active' AND (p_kind IS NULL OR c.kind = p_kind))
$$;

CREATE FUNCTION missive_conversation_json(p_conv bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'kind', c.kind, 'title', c.title,
        'created_by', c.created_by,
        'member_ids', (SELECT coalesce(jsonb_agg(m.user_id ORDER BY m.user_id), '[]')
                       FROM members m WHERE m.conversation_id = c.id
                       AND m.state IN ('active', 'request')))
    FROM conversations c WHERE c.id = p_conv
$$;

-- Opens (or finds) the direct conversation between caller and target.
-- status: created | existing | no_user | self | blocked | policy
CREATE FUNCTION missive_open_direct(p_caller bigint, p_target bigint,
                                    OUT status text, OUT conversation_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_key text := least(p_caller, p_target) || ':' || greatest(p_caller, p_target);
    v_policy text;
    v_state text;
    v_pos bigint;
BEGIN
    IF p_caller = p_target THEN status := 'self'; RETURN; END IF;
    SELECT dm_policy INTO v_policy FROM users WHERE id = p_target;
    IF NOT FOUND THEN status := 'no_user'; RETURN; END IF;
    IF missive_blocked(p_caller, p_target) THEN status := 'blocked'; RETURN; END IF;

    SELECT c.id INTO conversation_id FROM conversations c WHERE c.direct_key = v_key FOR UPDATE;
    IF FOUND THEN
        status := 'existing';
        SELECT state INTO v_state FROM members
        WHERE members.conversation_id = missive_open_direct.conversation_id AND user_id = p_caller;
        IF v_state = 'declined' THEN
            -- The caller once declined the other's request and now writes first:
            -- that is as good as accepting.
            UPDATE members SET state = 'active', left_at = NULL
            WHERE members.conversation_id = missive_open_direct.conversation_id
              AND user_id = p_caller;
            v_pos := missive_emit(conversation_id, 'conversation.accepted', p_caller, NULL, NULL,
                                  jsonb_build_object('conversation_id', conversation_id,
                                                     'user_id', p_caller));
            PERFORM missive_span_open(conversation_id, p_caller, v_pos);
        END IF;
        RETURN;
    END IF;

    IF v_policy = 'nobody'
       OR (v_policy = 'groups' AND NOT missive_share(p_caller, p_target, 'group')) THEN
        status := 'policy';
        RETURN;
    END IF;

    INSERT INTO conversations (kind, created_by, direct_key) VALUES ('direct', p_caller, v_key)
    ON CONFLICT (direct_key) DO NOTHING
    RETURNING id INTO conversation_id;
    IF conversation_id IS NULL THEN
        -- Both sides opened it at the same moment; the other insert won.
        SELECT c.id INTO conversation_id FROM conversations c WHERE c.direct_key = v_key;
        status := 'existing';
        RETURN;
    END IF;
    INSERT INTO members (conversation_id, user_id, role, state) VALUES
        (conversation_id, p_caller, 'member', 'active'),
        (conversation_id, p_target, 'member',
         CASE WHEN missive_share(p_caller, p_target, NULL) THEN 'active' ELSE 'request' END);
    v_pos := missive_emit(conversation_id, 'conversation.created', p_caller, NULL, NULL,
                          jsonb_build_object('conversation', missive_conversation_json(conversation_id)));
    PERFORM missive_span_open(conversation_id, p_caller, v_pos);
    PERFORM missive_span_open(conversation_id, p_target, v_pos);
    status := 'created';
END
$$;

-- Creates a group with the caller as owner.
-- status: created | no_user (bad_id = the unknown id) | blocked (bad_id) | too_many
CREATE FUNCTION missive_create_group(p_caller bigint, p_title text, p_members bigint[],
                                     p_max integer,
                                     OUT status text, OUT conversation_id bigint, OUT bad_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_ids bigint[];
    v_pos bigint;
BEGIN
    SELECT array_agg(DISTINCT x) INTO v_ids
    FROM unnest(p_members || p_caller) x;
    IF cardinality(v_ids) > p_max THEN status := 'too_many'; RETURN; END IF;
    SELECT x INTO bad_id FROM unnest(v_ids) x WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x)
    ORDER BY x LIMIT 1;
    IF bad_id IS NOT NULL THEN status := 'no_user'; RETURN; END IF;
    SELECT x INTO bad_id FROM unnest(v_ids) x
    WHERE x <> p_caller AND missive_blocked(p_caller, x) ORDER BY x LIMIT 1;
    IF bad_id IS NOT NULL THEN status := 'blocked'; RETURN; END IF;

    INSERT INTO conversations (kind, title, created_by) VALUES ('group', p_title, p_caller)
    RETURNING id INTO conversation_id;
    INSERT INTO members (conversation_id, user_id, role, state)
    SELECT conversation_id, x, CASE WHEN x = p_caller THEN 'owner' ELSE 'member' END, 'active'
    FROM unnest(v_ids) x;
    v_pos := missive_emit(conversation_id, 'conversation.created', p_caller, NULL, NULL,
                          jsonb_build_object('conversation', missive_conversation_json(conversation_id)));
    INSERT INTO member_spans (conversation_id, user_id, from_pos)
    SELECT conversation_id, x, v_pos FROM unnest(v_ids) x;
    status := 'created';
END
$$;

-- The caller's role and state in a conversation, locking the conversation row.
-- NULL state: not a member at all.
CREATE FUNCTION missive_lock_member(p_conv bigint, p_user bigint,
                                    OUT kind text, OUT role text, OUT state text)
LANGUAGE sql AS $$
    SELECT c.kind, m.role, m.state
    FROM (SELECT id, kind FROM conversations WHERE id = p_conv FOR UPDATE) c
    LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = p_user
$$;

-- Renames a group and/or sets the caller's mute.
-- status: ok | not_found | not_group | forbidden
CREATE FUNCTION missive_update_conversation(p_conv bigint, p_caller bigint,
                                            p_set_title boolean, p_title text,
                                            p_set_mute boolean, p_muted_until timestamptz)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    SELECT * INTO v FROM missive_lock_member(p_conv, p_caller);
    IF v.state IS NULL OR v.state NOT IN ('active', 'request') THEN RETURN 'not_found'; END IF;
    IF p_set_title THEN
        IF v.kind <> 'group' THEN RETURN 'not_group'; END IF;
        IF v.role NOT IN ('owner', 'admin') OR v.state <> 'active' THEN RETURN 'forbidden'; END IF;
        UPDATE conversations SET title = p_title WHERE id = p_conv;
        PERFORM missive_emit(p_conv, 'conversation.renamed', p_caller, NULL, NULL,
                             jsonb_build_object('conversation_id', p_conv, 'title', p_title));
    END IF;
    IF p_set_mute THEN
        UPDATE members SET muted_until = p_muted_until
        WHERE conversation_id = p_conv AND user_id = p_caller;
    END IF;
    RETURN 'ok';
END
$$;

-- Adds members to a group (owners and admins only).
-- status: ok | not_found | not_group | forbidden | no_user (bad_id) | blocked (bad_id) | too_many
CREATE FUNCTION missive_add_members(p_conv bigint, p_caller bigint, p_ids bigint[], p_max integer,
                                    OUT status text, OUT bad_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v record;
    v_new bigint[];
    v_pos bigint;
    v_last bigint;
    x bigint;
BEGIN
    SELECT * INTO v FROM missive_lock_member(p_conv, p_caller);
    IF v.state IS NULL OR v.state <> 'active' THEN status := 'not_found'; RETURN; END IF;
    IF v.kind <> 'group' THEN status := 'not_group'; RETURN; END IF;
    IF v.role NOT IN ('owner', 'admin') THEN status := 'forbidden'; RETURN; END IF;

    SELECT x2 INTO bad_id FROM unnest(p_ids) x2
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x2) ORDER BY x2 LIMIT 1;
    IF bad_id IS NOT NULL THEN status := 'no_user'; RETURN; END IF;
    SELECT x2 INTO bad_id FROM unnest(p_ids) x2
    WHERE x2 <> p_caller AND missive_blocked(p_caller, x2) ORDER BY x2 LIMIT 1;
    IF bad_id IS NOT NULL THEN status := 'blocked'; RETURN; END IF;

    SELECT array_agg(DISTINCT x2) INTO v_new FROM unnest(p_ids) x2
    WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = p_conv
                      AND m.user_id = x2 AND m.state = 'active');
    IF v_new IS NULL THEN status := 'ok'; RETURN; END IF;
    IF (SELECT count(*) FROM members m WHERE m.conversation_id = p_conv AND m.state = 'active')
       + cardinality(v_new) > p_max THEN
        status := 'too_many'; RETURN;
    END IF;

    SELECT last_seq INTO v_last FROM conversations WHERE id = p_conv;
    FOREACH x IN ARRAY v_new LOOP
        INSERT INTO members (conversation_id, user_id, role, state, joined_seq,
                             last_read_seq, last_delivered_seq)
        VALUES (p_conv, x, 'member', 'active', v_last, v_last, v_last)
        ON CONFLICT (conversation_id, user_id) DO UPDATE
        SET role = 'member', state = 'active', joined_at = now(), left_at = NULL,
            joined_seq = v_last, last_read_seq = greatest(members.last_read_seq, v_last),
            last_delivered_seq = greatest(members.last_delivered_seq, v_last);
        v_pos := missive_emit(p_conv, 'member.added', p_caller, NULL, NULL,
                              jsonb_build_object('conversation_id', p_conv, 'user_id', x,
                                                 'role', 'member', 'by', p_caller));
        PERFORM missive_span_open(p_conv, x, v_pos, v_last);
    END LOOP;
    status := 'ok';
END
$$;

-- Removes a member (an admin removing someone) or leaves (p_target = p_caller).
-- status: ok | not_found | forbidden | not_group | no_member
CREATE FUNCTION missive_remove_member(p_conv bigint, p_caller bigint, p_target bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v record;
    t record;
    v_pos bigint;
    v_heir bigint;
BEGIN
    SELECT * INTO v FROM missive_lock_member(p_conv, p_caller);
    IF v.state IS NULL OR v.state NOT IN ('active', 'request') THEN RETURN 'not_found'; END IF;
    IF v.kind <> 'group' THEN RETURN 'not_group'; END IF;
    SELECT role, state INTO t FROM members WHERE conversation_id = p_conv AND user_id = p_target;
    IF NOT FOUND OR t.state <> 'active' THEN RETURN 'no_member'; END IF;
    IF p_target <> p_caller AND (v.role NOT IN ('owner', 'admin')
                                 OR t.role = 'owner'
                                 OR (t.role = 'admin' AND v.role <> 'owner')) THEN
        RETURN 'forbidden';
    END IF;

    UPDATE members SET state = 'left', left_at = now(), role = 'member'
    WHERE conversation_id = p_conv AND user_id = p_target;
    v_pos := missive_emit(p_conv, 'member.removed', p_caller, NULL, NULL,
                          jsonb_build_object('conversation_id', p_conv, 'user_id', p_target,
                                             'by', p_caller));
    PERFORM missive_span_close(p_conv, p_target, v_pos);

    IF t.role = 'owner' THEN
        -- The owner left: the longest-standing admin, else member, takes over.
        SELECT user_id INTO v_heir FROM members
        WHERE conversation_id = p_conv AND state = 'active'
        ORDER BY (role = 'admin') DESC, joined_at, user_id LIMIT 1;
        IF v_heir IS NOT NULL THEN
            UPDATE members SET role = 'owner' WHERE conversation_id = p_conv AND user_id = v_heir;
            PERFORM missive_emit(p_conv, 'member.role_changed', p_target, NULL, NULL,
                                 jsonb_build_object('conversation_id', p_conv, 'user_id', v_heir,
                                                    'role', 'owner'));
        END IF;
    END IF;
    RETURN 'ok';
END
$$;

-- Accepts or declines a message request.
-- status: ok | not_found | not_request
CREATE FUNCTION missive_answer_request(p_conv bigint, p_caller bigint, p_accept boolean,
                                       p_block boolean)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v record;
    v_pos bigint;
    v_other bigint;
BEGIN
    SELECT * INTO v FROM missive_lock_member(p_conv, p_caller);
    IF v.state IS NULL OR v.state NOT IN ('active', 'request') THEN RETURN 'not_found'; END IF;
    IF v.state <> 'request' THEN RETURN 'not_request'; END IF;
    IF p_accept THEN
        UPDATE members SET state = 'active' WHERE conversation_id = p_conv AND user_id = p_caller;
        PERFORM missive_emit(p_conv, 'conversation.accepted', p_caller, NULL, NULL,
                             jsonb_build_object('conversation_id', p_conv, 'user_id', p_caller));
    ELSE
        UPDATE members SET state = 'declined', left_at = now()
        WHERE conversation_id = p_conv AND user_id = p_caller;
        -- Only the decliner's own devices hear of it: the sender is not told.
        v_pos := missive_emit(p_conv, 'conversation.declined', p_caller, NULL, p_caller,
                              jsonb_build_object('conversation_id', p_conv));
        PERFORM missive_span_close(p_conv, p_caller, v_pos);
        IF p_block THEN
            SELECT user_id INTO v_other FROM members
            WHERE conversation_id = p_conv AND user_id <> p_caller LIMIT 1;
            INSERT INTO blocks (blocker_id, blocked_id) VALUES (p_caller, v_other)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    RETURN 'ok';
END
$$;

-- Edits (p_body not NULL) or deletes (p_body NULL) a message.
-- status: ok | not_found | no_message | forbidden | too_late | deleted
CREATE FUNCTION missive_change_message(p_conv bigint, p_caller bigint, p_seq bigint,
                                       p_body text, p_edit_window interval)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v record;
    m record;
    v_at text;
BEGIN
    SELECT * INTO v FROM missive_lock_member(p_conv, p_caller);
    IF v.state IS NULL OR v.state NOT IN ('active', 'request') THEN RETURN 'not_found'; END IF;
    SELECT sender_id, created_at, deleted_at INTO m FROM messages
    WHERE conversation_id = p_conv AND seq = p_seq
      AND seq > (SELECT joined_seq FROM members WHERE conversation_id = p_conv AND user_id = p_caller);
    IF NOT FOUND THEN RETURN 'no_message'; END IF;
    IF m.deleted_at IS NOT NULL THEN RETURN 'deleted'; END IF;

    IF p_body IS NOT NULL THEN
        IF m.sender_id <> p_caller OR v.state <> 'active' THEN RETURN 'forbidden'; END IF;
        IF m.created_at < now() - p_edit_window THEN RETURN 'too_late'; END IF;
        UPDATE messages SET body = p_body, edited_at = now()
        WHERE conversation_id = p_conv AND seq = p_seq
        RETURNING to_char(edited_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') INTO v_at;
        -- Older events must not keep the old text around.
        UPDATE events SET payload = payload || jsonb_build_object('body', p_body)
        WHERE conversation_id = p_conv AND seq = p_seq AND type IN ('message.created', 'message.edited');
        PERFORM missive_emit(p_conv, 'message.edited', p_caller, p_seq, NULL,
                             jsonb_build_object('conversation_id', p_conv, 'seq', p_seq,
                                                'body', p_body, 'edited_at', v_at));
    ELSE
        IF m.sender_id <> p_caller AND NOT (v.kind = 'group' AND v.role IN ('owner', 'admin')) THEN
            RETURN 'forbidden';
        END IF;
        UPDATE messages SET body = NULL, deleted_at = now()
        WHERE conversation_id = p_conv AND seq = p_seq
        RETURNING to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') INTO v_at;
        DELETE FROM reactions WHERE conversation_id = p_conv AND seq = p_seq;
        -- A deleted message's text is gone from the event stream too.
        UPDATE events SET payload = payload || jsonb_build_object('body', NULL, 'deleted', true)
        WHERE conversation_id = p_conv AND seq = p_seq AND type IN ('message.created', 'message.edited');
        PERFORM missive_emit(p_conv, 'message.deleted', p_caller, p_seq, NULL,
                             jsonb_build_object('conversation_id', p_conv, 'seq', p_seq,
                                                'deleted_at', v_at, 'by', p_caller));
    END IF;
    RETURN 'ok';
END
$$;

-- Adds or removes the caller's reaction. Idempotent: no event when nothing changed.
-- status: ok | unchanged | not_found | no_message
CREATE FUNCTION missive_react(p_conv bigint, p_caller bigint, p_seq bigint, p_emoji text,
                              p_add boolean)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v record;
    n integer;
BEGIN
    SELECT * INTO v FROM missive_lock_member(p_conv, p_caller);
    IF v.state IS NULL OR v.state <> 'active' THEN RETURN 'not_found'; END IF;
    PERFORM 1 FROM messages WHERE conversation_id = p_conv AND seq = p_seq AND deleted_at IS NULL
      AND seq > (SELECT joined_seq FROM members WHERE conversation_id = p_conv AND user_id = p_caller);
    IF NOT FOUND THEN RETURN 'no_message'; END IF;
    IF p_add THEN
        INSERT INTO reactions (conversation_id, seq, user_id, emoji)
        VALUES (p_conv, p_seq, p_caller, p_emoji) ON CONFLICT DO NOTHING;
    ELSE
        DELETE FROM reactions WHERE conversation_id = p_conv AND seq = p_seq
          AND user_id = p_caller AND emoji = p_emoji;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN RETURN 'unchanged'; END IF;
    PERFORM missive_emit(p_conv, CASE WHEN p_add THEN 'reaction.added' ELSE 'reaction.removed' END,
                         p_caller, p_seq, NULL,
                         jsonb_build_object('conversation_id', p_conv, 'seq', p_seq,
                                            'user_id', p_caller, 'emoji', p_emoji));
    RETURN 'ok';
END
$$;
