"""Delivery reports: notification rows merged with their recipients, streamed as CSV."""
