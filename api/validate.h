/*
 * validate: value rules shared by several handlers (a failed rule is a 422).
 */
#ifndef MISSIVE_VALIDATE_H
#define MISSIVE_VALIDATE_H

/* 1..64 characters of valid UTF-8 with no control characters. */
int validate_display_name(const char *s);
/* A UUID: 8-4-4-4-12 hex digits (either case; store it lower-cased). */
int validate_uuid(const char *s);
/* An RFC 3339 date-time with a zone: 2030-01-01T00:00:00Z, ...+02:00, optional fraction. */
int validate_timestamp(const char *s);
/* A group title: 1..128 characters, no control characters, not all whitespace. */
int validate_title(const char *s);
/* A message body: 1..4000 characters of valid UTF-8, not all (Unicode) whitespace. */
int validate_body(const char *s);

#endif
