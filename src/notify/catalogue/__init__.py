"""A service's own records: the service, its templates, API keys, senders and team list.

Functions take a connection and never commit: the caller owns the transaction.
"""
