-- Media: photos and videos sent in conversations.
--
-- The API never carries the bytes: POST /v1/media records a row here and hands
-- the client a presigned upload URL for storage_key; the client PUTs the bytes
-- straight to object storage (or to nginx, with the local backend). A send that
-- names the media checks the object (HEAD: exact size, and type where the store
-- reports it), marks the row ready, and records in media_holders which messages
-- hold it. GET /v1/media/{id} hands out short-lived presigned downloads to the
-- uploader and to members who can see a message holding it.
--
-- The sweep (missive-worker sweep) deletes, object first and row after:
--   * media still pending a day after it was created (an upload never sent);
--   * ready media that no live message holds any more (all holders deleted, or
--     the send that checked it failed), once the grace after its last check is over.
-- So that it never scans all media, ready media it may have to look at are queued
-- in media_sweep: by the send check (due when an unsent upload would be abandoned)
-- and by a trigger when a message holding media is deleted (due after a grace).
-- The 'deleting' state marks rows the sweep has claimed: their objects are being
-- removed, they are invisible and cannot be attached.

CREATE TABLE media (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id      bigint NOT NULL REFERENCES users (id),
    -- Random (128 bits, hex) plus an extension derived from content_type, e.g.
    -- "3f0c...9a.jpg". Never user input.
    storage_key   text NOT NULL UNIQUE CHECK (storage_key ~ '^[a-z0-9]{32}\.[a-z0-9]{2,5}$'),
    content_type  text NOT NULL CHECK (content_type ~ '^[a-z]+/[a-z0-9.+-]+$'),
    size          bigint NOT NULL CHECK (size > 0),
    -- Display name only (sanitised: no path, no control characters); never a path.
    filename      text NOT NULL CHECK (octet_length(filename) BETWEEN 1 AND 255),
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ready', 'deleting')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- When the presigned upload URL stops working; after it the object cannot change.
    upload_expires_at timestamptz NOT NULL,
    -- First time a send found the upload complete.
    ready_at      timestamptz,
    -- Last time a send checked it (the sweep leaves media alone for a while after).
    checked_at    timestamptz,
    CHECK ((state = 'pending') = (ready_at IS NULL) OR state = 'deleting')
);
CREATE INDEX media_pending_by_owner ON media (owner_id) WHERE state = 'pending';
CREATE INDEX media_pending_by_age ON media (created_at) WHERE state = 'pending';
CREATE INDEX media_deleting ON media (id) WHERE state = 'deleting';

-- Which messages hold which media. Written by the send batch together with the
-- message; a message is (conversation_id, seq).
CREATE TABLE media_holders (
    media_id        bigint NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    conversation_id bigint NOT NULL,
    seq             bigint NOT NULL,
    PRIMARY KEY (media_id, conversation_id, seq),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
);
CREATE INDEX media_holders_by_message ON media_holders (conversation_id, seq);

-- May p_user download p_media? The uploader always; anyone else only while they
-- are an active member (or have a pending message request) of a conversation in
-- which a message they can see (after they joined, not deleted) holds it.
CREATE FUNCTION missive_media_visible(p_media bigint, p_user bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM media m
        WHERE m.id = p_media AND m.state <> 'deleting'
          AND (m.owner_id = p_user
               OR EXISTS (
                   SELECT 1
                   FROM media_holders h
                   JOIN messages msg ON msg.conversation_id = h.conversation_id AND msg.seq = h.seq
                   JOIN members mb ON mb.conversation_id = h.conversation_id AND mb.user_id = p_user
                   WHERE h.media_id = m.id
                     AND msg.deleted_at IS NULL
                     AND mb.state IN ('active', 'request')
                     AND msg.seq > mb.joined_seq)))
$$;

-- Ready media the sweep must look at when due_at comes (see the top of this file).
CREATE TABLE media_sweep (
    media_id bigint PRIMARY KEY REFERENCES media (id) ON DELETE CASCADE,
    due_at   timestamptz NOT NULL
);
CREATE INDEX media_sweep_due ON media_sweep (due_at);

-- A message holding media was deleted: its media may now be unreachable. The
-- sweep looks after the grace (a send checking the same media may be in flight).
CREATE FUNCTION missive_media_message_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_sweep (media_id, due_at)
    SELECT h.media_id, now() + interval '10 minutes'
    FROM media_holders h
    WHERE h.conversation_id = NEW.conversation_id AND h.seq = NEW.seq
    ON CONFLICT (media_id) DO UPDATE SET due_at = least(media_sweep.due_at, excluded.due_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_media_deleted AFTER UPDATE OF deleted_at ON messages
FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
                   AND cardinality(NEW.media_ids) > 0)
EXECUTE FUNCTION missive_media_message_deleted();
