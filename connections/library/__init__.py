"""The connection library: who may see what, the profile form, each connection's status, the audit log."""
