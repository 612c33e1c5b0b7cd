"""Webhook endpoints: each delivery authenticated by its signature."""
