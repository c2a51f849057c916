"""The gateway: HTTP front doors to the engine, each request sent to the daemons over NATS.

A separate, stateless process (``code-engine gateway``): an ASGI app on
Hypercorn's Trio worker; anything that must outlive a request (a Judge0
submission fetched later by token) lives in a JetStream key-value bucket.

::

    settings     GatewaySettings: the CODE_ENGINE_GATEWAY_* variables
    errors       GatewayError and its leaves (Refused carries an HTTP status)
    engine       Engine: NATS request-reply to the daemons, the language list
    server       the process: trio-asyncio loop, nursery, Hypercorn
    app          every part built and wired
    http/        Request/Response, the router, the guard (tokens, limits), the ASGI app
    native       the NATS protocol over HTTP, one to one; openapi its document
    judge0/      the Judge0 CE 1.13 API: submissions, the bucket, statuses, languages
    piston       the Piston v2 API
    mcp_tools    the MCP server's tools; mcp_stdio its stdio transport
    ops          /healthz, /readyz, /metrics, /openapi.json; metrics the counters
"""
