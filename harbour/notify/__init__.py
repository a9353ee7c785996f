"""Confidential notifications: routing by Apprise tag, a transactional outbox, alerts."""
