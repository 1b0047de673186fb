"""Encryption at rest: the key ring from settings and the encrypted model field."""
