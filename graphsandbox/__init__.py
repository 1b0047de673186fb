"""A stand-in for Entra ID and Microsoft Graph, faithful enough for MSAL and the Graph SDK.

Standalone: it imports nothing from the dashboard. Run with ``python -m graphsandbox``.
"""
