"""The connection library: profiles, tokens, jobs, diagnostics and their pages."""
