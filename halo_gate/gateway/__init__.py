"""The request pipeline, in the order a request flows through its modules:

- ``entry``: ``HaloGate``, the pure ASGI middleware; answers the signed-in request between
  heartbeats from the cookie alone;
- ``pipeline``: one request judged: identified, then decided;
- ``identify``: who the request is from (the cookie, or the configured identity source);
- ``decide``: the licence (between heartbeats locally, else the engine);
- ``answer``: hand the request on, or the one renderer of every refusal;
- ``routes``: the gateway's own routes, which identify and never license;
- ``forward``: forward auth, the same pipeline answered as 200, 401 or 403;
- ``paths``: which paths are public or passive, and every URL a page carries;
- ``core``: the frozen parts each of the above is given; ``verdict``: what a decision is.
"""
