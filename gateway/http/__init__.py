"""The gateway's HTTP side: a small ASGI router, its middleware, and the app.

::

    messages  Request and Response, JSON bodies in and out
    router    routes by method and path template, each tagged with its API
    guard     authentication, per-token rate and concurrency limits
    app       the ASGI application: body limits, CORS, access logs, metrics,
              errors as JSON in each API's shape, MCP mounted at /mcp
"""
