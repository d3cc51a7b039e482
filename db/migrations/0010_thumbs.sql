-- Thumbnails of images (docs/media.md).
--
-- When an image becomes ready (a send checked its upload), a trigger marks it
-- thumb_state = 'wanted' and NOTIFYs missive_thumbs. The thumbs job of
-- missive-worker claims wanted rows (SKIP LOCKED), counting an attempt and
-- stamping thumb_tried_at in its own committed statement, so that an image that
-- kills the worker is not taken again for a while and is given up after a few
-- attempts. It reads the object, makes a WebP preview (lib/thumb.c) and stores it
-- as a second object, whose key it records in thumb_key BEFORE writing it (so the
-- sweep, which deletes thumb_key along with storage_key, can never leave it
-- behind), then marks the row 'done'. An image that cannot be read (corrupt, not
-- the declared type, too large) is marked 'failed' with the reason and never
-- tried again. GET /v1/media/{id}?variant=thumb serves thumb_key once 'done'.
--
-- thumb_state is NULL for media that get no thumbnail: not yet ready, or not one
-- of the types below. Keep the list in step with thumb_supported() in lib/thumb.c.

ALTER TABLE media
    ADD COLUMN thumb_state    text CHECK (thumb_state IN ('wanted', 'done', 'failed')),
    -- Random like storage_key (never user input); set before the object is written.
    ADD COLUMN thumb_key      text UNIQUE CHECK (thumb_key ~ '^[a-z0-9]{32}\.[a-z0-9]{2,5}$'),
    ADD COLUMN thumb_attempts smallint NOT NULL DEFAULT 0,
    ADD COLUMN thumb_tried_at timestamptz,
    -- Why it failed, for operators (never shown to clients).
    ADD COLUMN thumb_error    text CHECK (octet_length(thumb_error) <= 300),
    ADD CONSTRAINT media_thumb_done_has_key CHECK (thumb_state IS DISTINCT FROM 'done'
                                                   OR thumb_key IS NOT NULL);

CREATE INDEX media_thumb_wanted ON media (id) WHERE thumb_state = 'wanted';

CREATE FUNCTION missive_media_thumb_wanted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif') THEN
        NEW.thumb_state := 'wanted';
        PERFORM pg_notify('missive_thumbs', '');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER media_thumb_wanted BEFORE UPDATE OF state ON media
FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state = 'ready' AND NEW.thumb_state IS NULL)
EXECUTE FUNCTION missive_media_thumb_wanted();

-- Images that were ready before thumbnails existed.
UPDATE media SET thumb_state = 'wanted'
WHERE state = 'ready' AND content_type IN ('image/jpeg', 'image/png', 'image/webp', 'image/gif');
