"""The mirror: a reconciling read model of the router's swarms and a lossless, replayable SSE stream.

Not authoritative: everything it knows comes from the event bus and from the router's swarm list, and
the router's answer always wins.  See ARCHITECTURE.md §1, §5 and §10.
"""
