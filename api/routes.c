/*
 * routes: every operation missive-api serves, one row each. The e2e suite checks
 * that this table and openapi.yaml name the same operations.
 */
#include "handlers.h"
#include "router.h"

const struct route routes[] = {
    {"GET", "/healthz", h_ops_healthz, ROUTE_PUBLIC},
    {"GET", "/metrics", h_ops_metrics, ROUTE_PUBLIC},

    {"POST", "/v1/accounts", h_accounts_create, ROUTE_PUBLIC},

    {"POST", "/v1/sessions", h_sessions_create, ROUTE_PUBLIC},
    {"POST", "/v1/sessions/refresh", h_sessions_refresh, ROUTE_PUBLIC},
    {"DELETE", "/v1/sessions/current", h_sessions_delete_current, ROUTE_USER},

    {"GET", "/v1/me", h_me_get, ROUTE_USER},
    {"PATCH", "/v1/me", h_me_patch, ROUTE_USER},
    {"GET", "/v1/users", h_users_search, ROUTE_USER},
    {"GET", "/v1/users/{id}", h_users_get, ROUTE_USER},

    {"POST", "/v1/conversations", h_conversations_create, ROUTE_USER},
    {"GET", "/v1/conversations", h_conversations_list, ROUTE_USER},
    {"GET", "/v1/conversations/{id}", h_conversations_get, ROUTE_USER},
    {"PATCH", "/v1/conversations/{id}", h_conversations_patch, ROUTE_USER},
    {"POST", "/v1/conversations/{id}/accept", h_conversations_accept, ROUTE_USER},
    {"POST", "/v1/conversations/{id}/decline", h_conversations_decline, ROUTE_USER},
    {"POST", "/v1/conversations/{id}/members", h_members_add, ROUTE_USER},
    {"DELETE", "/v1/conversations/{id}/members/{user_id}", h_members_remove, ROUTE_USER},
    /* The hot path: the session is checked inside the send batch, not by a query of its own. */
    {"POST", "/v1/conversations/{id}/messages", h_messages_send, ROUTE_TOKEN},
    {"GET", "/v1/conversations/{id}/messages", h_messages_list, ROUTE_USER},
    {"PATCH", "/v1/conversations/{id}/messages/{seq}", h_messages_edit, ROUTE_USER},
    {"DELETE", "/v1/conversations/{id}/messages/{seq}", h_messages_delete, ROUTE_USER},
    {"PUT", "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}", h_reactions_put, ROUTE_USER},
    {"DELETE", "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}", h_reactions_delete,
     ROUTE_USER},

    {"GET", "/v1/blocks", h_blocks_list, ROUTE_USER},
    {"PUT", "/v1/blocks/{user_id}", h_blocks_put, ROUTE_USER},
    {"DELETE", "/v1/blocks/{user_id}", h_blocks_delete, ROUTE_USER},

    {"GET", "/v1/events", h_events_list, ROUTE_USER},

    {"POST", "/v1/conversations/{id}/delivered", h_receipts_delivered, ROUTE_USER},
    {"POST", "/v1/conversations/{id}/read", h_receipts_read, ROUTE_USER},

    {"POST", "/v1/stream/tickets", h_stream_ticket, ROUTE_USER},
    {"POST", "/v1/conversations/{id}/typing", h_typing, ROUTE_USER},
    {"GET", "/v1/presence", h_presence, ROUTE_USER},

    {"GET", "/v1/push/vapid-key", h_push_vapid_key, ROUTE_USER},
    {"POST", "/v1/push/subscriptions", h_push_subscribe, ROUTE_USER},
    {"GET", "/v1/push/subscriptions", h_push_list, ROUTE_USER},
    {"DELETE", "/v1/push/subscriptions/{id}", h_push_delete, ROUTE_USER},

    {"POST", "/v1/media", h_media_create, ROUTE_USER},
    {"GET", "/v1/media/{id}", h_media_get, ROUTE_USER},
    /* nginx's auth_request for its /media/ location (local storage); an internal
     * location, not reachable by clients. */
    {"GET", "/internal/media-auth", h_media_auth, ROUTE_PUBLIC},
};

const size_t routes_count = sizeof routes / sizeof routes[0];
