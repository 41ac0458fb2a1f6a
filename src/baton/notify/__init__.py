"""Notifications: email (SMTP) and webhooks, sent from the store's outbox."""
