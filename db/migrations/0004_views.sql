-- JSON representations of conversations, members and messages, as the API
-- answers them (openapi.yaml: Conversation, Member, Message). Built here so that
-- each answer is one query and the shapes live in one place.

CREATE FUNCTION missive_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Reactions on one message, counted per emoji, with whether the viewer is among them.
CREATE FUNCTION missive_reactions_json(p_conv bigint, p_seq bigint, p_viewer bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('emoji', r.emoji, 'count', r.n, 'mine', r.mine)
                              ORDER BY r.first_at, r.emoji), '[]'::jsonb)
    FROM (SELECT emoji, count(*) AS n, bool_or(user_id = p_viewer) AS mine, min(created_at) AS first_at
          FROM reactions WHERE conversation_id = p_conv AND seq = p_seq GROUP BY emoji) r
$$;

CREATE FUNCTION missive_message_json(m messages, p_viewer bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'conversation_id', m.conversation_id, 'seq', m.seq, 'sender_id', m.sender_id,
        'client_msg_id', m.client_msg_id, 'body', m.body, 'reply_to', m.reply_to_seq,
        'media_ids', to_jsonb(m.media_ids),
        'created_at', missive_ts(m.created_at), 'edited_at', missive_ts(m.edited_at),
        'deleted_at', missive_ts(m.deleted_at),
        'reactions', missive_reactions_json(m.conversation_id, m.seq, p_viewer))
$$;

CREATE FUNCTION missive_member_json(p_conv bigint, p_user bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('user_id', u.id, 'username', u.username,
        'display_name', u.display_name, 'role', m.role,
        'state', CASE WHEN m.state = 'declined' THEN 'request' ELSE m.state END,
        'joined_at', missive_ts(m.joined_at),
        'last_read_seq', m.last_read_seq, 'last_delivered_seq', m.last_delivered_seq)
    FROM members m JOIN users u ON u.id = m.user_id
    WHERE m.conversation_id = p_conv AND m.user_id = p_user
$$;

-- A conversation as the viewer sees it: their role, state, unread count and
-- mute, the last message they may see, the other person of a direct
-- conversation, and (p_members) every current member.
CREATE FUNCTION missive_conversation_view(p_conv bigint, p_viewer bigint, p_members boolean)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', c.id, 'kind', c.kind, 'title', c.title, 'created_by', c.created_by,
        'created_at', missive_ts(c.created_at), 'last_activity_at', missive_ts(c.last_activity_at),
        'last_seq', c.last_seq, 'role', me.role, 'state', me.state,
        'muted_until', missive_ts(me.muted_until),
        'last_read_seq', me.last_read_seq, 'last_delivered_seq', me.last_delivered_seq,
        'unread_count', greatest(c.last_seq - greatest(me.last_read_seq, me.joined_seq), 0),
        -- A declined request looks pending to everyone but the decliner (who no
        -- longer sees the conversation): the sender is not told.
        'member_count', (SELECT count(*) FROM members x WHERE x.conversation_id = c.id
                         AND x.state IN ('active', 'request', 'declined')),
        'last_message', (SELECT missive_message_json(lm, p_viewer) FROM messages lm
                         WHERE lm.conversation_id = c.id AND lm.seq = c.last_seq
                           AND lm.seq > me.joined_seq),
        'peer', CASE WHEN c.kind = 'direct' THEN
                    (SELECT jsonb_build_object('id', u.id, 'username', u.username,
                                               'display_name', u.display_name)
                     FROM members o JOIN users u ON u.id = o.user_id
                     WHERE o.conversation_id = c.id AND o.user_id <> p_viewer LIMIT 1)
                END)
        || CASE WHEN p_members THEN jsonb_build_object('members',
               (SELECT coalesce(jsonb_agg(missive_member_json(c.id, x.user_id)
                                          ORDER BY x.joined_at, x.user_id), '[]'::jsonb)
                FROM members x WHERE x.conversation_id = c.id
                AND x.state IN ('active', 'request', 'declined')))
           ELSE '{}'::jsonb END
    FROM conversations c JOIN members me ON me.conversation_id = c.id AND me.user_id = p_viewer
    WHERE c.id = p_conv
$$;
