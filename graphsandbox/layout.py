"""The sandbox's own HTML pages (sign-in, consent, portal): one look, no script."""

from __future__ import annotations

import html

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f3f2f1;color:#201f1e}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 8px}h2{font-size:18px;margin:20px 0 8px}h3{font-size:15px;margin:14px 0 6px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:16px 20px;margin:16px 0}
.muted{color:#605e5c;font-size:13px}.error{color:#a4262c;font-weight:600}
.ok{color:#107c10}.warn{color:#a4262c}
code{background:#f3f2f1;padding:1px 4px;border-radius:3px;font-size:13px;word-break:break-all}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #edebe9;font-size:14px}
button{background:#0078d4;color:#fff;border:0;border-radius:3px;padding:5px 12px;cursor:pointer;font-size:14px}
button.secondary{background:#edebe9;color:#201f1e}button.danger{background:#a4262c}
select,input[type=text]{padding:4px;font-size:14px}
form.inline{display:inline}label.user{display:block;padding:6px;border:1px solid #edebe9;margin:4px 0;border-radius:4px}
.banner{background:#dff6dd;border:1px solid #107c10;padding:10px 14px;border-radius:4px}
"""


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style>'
        f"</head><body><main>{body}</main></body></html>"
    )
