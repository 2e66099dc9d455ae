"""The Graph v1.0 calendar API: events, meetings, delta, subscriptions, batch, limits."""
