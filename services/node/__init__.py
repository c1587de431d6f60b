"""The node program: one per node, standard library only, shipped to compute nodes as a zipapp.

It reads injections from its inbox, drives an agent runtime (`runtimes/`), and writes every raw runtime
message to its outbox as records (see `records.py` for the mailbox contract).
"""
